// The hosted Unity SDK's static entry points for the user-status feature, backed by one
// TIMClient. A game written against the hosted SDK keeps its calls; only Init changes, to name
// the Presently server (SdkConfig.presently_server_url), and the game calls
// TencentIMSDK.Update() once per frame so callbacks run on the main thread.
using System;
using System.Collections.Generic;
using com.tencent.imsdk.unity.callback;
using com.tencent.imsdk.unity.enums;
using com.tencent.imsdk.unity.types;
using Presently.Unity;

namespace com.tencent.imsdk.unity
{
    public static class TencentIMSDK
    {
        static readonly object gate = new object();
        static TIMClient client;
        // Callbacks set before Init (the hosted SDK allows either order) are kept and applied at Init.
        static UserStatusChangedCallback statusCallback;
        static UserStatusChangedStringCallback statusStringCallback;
        static NetworkStatusListenerCallback networkCallback;
        static KickedOfflineCallback kickedCallback;
        static KickedOfflineReasonCallback kickedReasonCallback;
        static UserSigExpiredCallback sigExpiredCallback;

        /// <summary>The instance behind the static calls (null before Init).</summary>
        public static TIMClient Client { get { lock (gate) return client; } }

        /// <summary>
        /// Initialises the SDK for `sdk_app_id` against the Presently server named by
        /// json_sdk_config.presently_server_url. Returns TIM_ERR_PARAM when the address is missing
        /// or not ws:// / wss://. A second Init replaces the first instance (which is ended).
        /// </summary>
        public static TIMResult Init(long sdk_app_id, SdkConfig json_sdk_config)
        {
            TIMClient created;
            try
            {
                created = new TIMClient(sdk_app_id, json_sdk_config);
            }
            catch (ArgumentException)
            {
                return TIMResult.TIM_ERR_PARAM;
            }
            TIMClient old;
            lock (gate)
            {
                old = client;
                client = created;
                created.SetUserStatusChangedCallback(statusCallback);
                created.SetUserStatusChangedCallback(statusStringCallback);
                created.SetNetworkStatusListenerCallback(networkCallback);
                created.SetKickedOfflineCallback(kickedCallback);
                created.SetKickedOfflineReasonCallback(kickedReasonCallback);
                created.SetUserSigExpiredCallback(sigExpiredCallback);
            }
            if (old != null) old.Uninit();
            return TIMResult.TIM_SUCC;
        }

        /// <summary>Ends the SDK: logs out when connected; no callback runs after it.</summary>
        public static TIMResult Uninit()
        {
            TIMClient old;
            lock (gate)
            {
                old = client;
                client = null;
            }
            if (old == null) return TIMResult.TIM_ERR_SDKUNINIT;
            old.Uninit();
            return TIMResult.TIM_SUCC;
        }

        /// <summary>
        /// Runs the callbacks that are waiting, on the calling thread. Call it once per frame from a
        /// MonoBehaviour's Update() (see README.md). Returns how many ran.
        /// </summary>
        public static int Update()
        {
            var c = Client;
            return c == null ? 0 : c.DispatchCallbacks();
        }

        static TIMResult With(Func<TIMClient, TIMResult> call)
        {
            var c = Client;
            return c == null ? TIMResult.TIM_ERR_SDKUNINIT : call(c);
        }

        public static TIMResult Login(string user_id, string user_sig, NullValueCallback callback) { return With(c => c.Login(user_id, user_sig, callback)); }
        public static TIMResult Login(string user_id, string user_sig, ValueCallback<string> callback) { return With(c => c.Login(user_id, user_sig, callback)); }
        public static TIMResult Logout(NullValueCallback callback) { return With(c => c.Logout(callback)); }
        public static TIMResult Logout(ValueCallback<string> callback) { return With(c => c.Logout(callback)); }

        public static TIMLoginStatus GetLoginStatus()
        {
            var c = Client;
            return c == null ? TIMLoginStatus.kTIMLoginStatus_UnLogined : c.GetLoginStatus();
        }

        public static long GetServerTime()
        {
            var c = Client;
            return c == null ? (long)(DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds : c.GetServerTime();
        }

        public static TIMResult SetSelfStatus(UserStatus json_current_user_status, NullValueCallback callback) { return With(c => c.SetSelfStatus(json_current_user_status, callback)); }
        public static TIMResult SetSelfStatus(UserStatus json_current_user_status, ValueCallback<string> callback) { return With(c => c.SetSelfStatus(json_current_user_status, callback)); }

        public static TIMResult GetUserStatus(List<string> json_identifier_array, ValueCallback<List<UserStatus>> callback) { return With(c => c.GetUserStatus(json_identifier_array, callback)); }
        public static TIMResult GetUserStatus(List<string> json_identifier_array, ValueCallback<string> callback) { return With(c => c.GetUserStatus(json_identifier_array, callback)); }
        public static TIMResult GetUserStatus(List<string> json_identifier_array, ValueCallback<UserStatusResult> callback) { return With(c => c.GetUserStatus(json_identifier_array, callback)); }

        public static TIMResult SubscribeUserStatus(List<string> json_identifier_array, NullValueCallback callback) { return With(c => c.SubscribeUserStatus(json_identifier_array, callback)); }
        public static TIMResult SubscribeUserStatus(List<string> json_identifier_array, ValueCallback<string> callback) { return With(c => c.SubscribeUserStatus(json_identifier_array, callback)); }
        public static TIMResult SubscribeUserStatus(List<string> json_identifier_array, ValueCallback<List<UserStatusFailure>> callback) { return With(c => c.SubscribeUserStatus(json_identifier_array, callback)); }

        public static TIMResult UnsubscribeUserStatus(List<string> json_identifier_array, NullValueCallback callback) { return With(c => c.UnsubscribeUserStatus(json_identifier_array, callback)); }
        public static TIMResult UnsubscribeUserStatus(List<string> json_identifier_array, ValueCallback<string> callback) { return With(c => c.UnsubscribeUserStatus(json_identifier_array, callback)); }
        public static TIMResult UnsubscribeUserStatus(List<string> json_identifier_array, ValueCallback<List<UserStatusFailure>> callback) { return With(c => c.UnsubscribeUserStatus(json_identifier_array, callback)); }

        /// <summary>
        /// Sets the status-change callback (typed, or as a JSON string, or both); null clears it.
        /// One method with an optional second argument, so SetUserStatusChangedCallback(null) compiles.
        /// </summary>
        public static void SetUserStatusChangedCallback(UserStatusChangedCallback callback, UserStatusChangedStringCallback stringCallback = null)
        {
            lock (gate)
            {
                statusCallback = callback;
                statusStringCallback = stringCallback;
                if (client != null)
                {
                    client.SetUserStatusChangedCallback(callback);
                    client.SetUserStatusChangedCallback(stringCallback);
                }
            }
        }

        public static void SetNetworkStatusListenerCallback(NetworkStatusListenerCallback callback)
        {
            lock (gate) { networkCallback = callback; if (client != null) client.SetNetworkStatusListenerCallback(callback); }
        }

        public static void SetKickedOfflineCallback(KickedOfflineCallback callback)
        {
            lock (gate) { kickedCallback = callback; if (client != null) client.SetKickedOfflineCallback(callback); }
        }

        /// <summary>Presently's addition: the kick callback with the kick's type.</summary>
        public static void SetKickedOfflineReasonCallback(KickedOfflineReasonCallback callback)
        {
            lock (gate) { kickedReasonCallback = callback; if (client != null) client.SetKickedOfflineReasonCallback(callback); }
        }

        public static void SetUserSigExpiredCallback(UserSigExpiredCallback callback)
        {
            lock (gate) { sigExpiredCallback = callback; if (client != null) client.SetUserSigExpiredCallback(callback); }
        }
    }
}
