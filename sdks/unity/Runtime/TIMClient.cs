// One SDK instance: login state, reconnects, the S23 catch-up, and the user-status calls. The
// static TencentIMSDK facade drives one of these; the conformance adapter drives many. All state
// lives behind `gate` and changes only through SetState(), which posts the matching callbacks.
// Every connection attempt gets a new epoch; callbacks of an older connection compare it and are
// dropped. Game callbacks never run under `gate`: they go through the Dispatcher.
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using com.tencent.imsdk.unity.callback;
using com.tencent.imsdk.unity.enums;
using com.tencent.imsdk.unity.types;

namespace Presently.Unity
{
    /// <summary>The SDK's own error codes (the same as the TypeScript SDK's).</summary>
    public static class ErrorCodes
    {
        public const int NotLoggedIn = 2024;
        public const int RepeatedLogin = 2025;
        public const int NetworkError = 2800;
        public const int NetworkTimeout = 2801;
        public const int SdkNotReady = 2999;
        public const int LoggingIn = 3000;
        public const int LoginFailed = 3001;
        public const int KickedMultipleDevice = 3002;
        public const int KickedMultipleAccount = 3003;
        public const int KickedUserSigExpired = 3004;
        public const int LoggedOut = 3005;
        public const int KickedRestApi = 3006;
        public const int InvalidParameters = 70402;
        public const int TooManyIds = 72002;
    }

    public sealed class TIMClient
    {
        enum State { Idle, LoggingIn, Ready, Disconnected, Reconnecting, LoginFailed, LoggedOut, Kicked, Destroyed }

        const string MultipleDevice = "multipleDevice";
        const string MultipleAccount = "multipleAccount";
        const string UserSigExpired = "userSigExpired";
        const string RestApiKick = "REST_API_Kick";

        static readonly HashSet<int> RetryableLoginCodes = new HashSet<int> { 2800, 2801, 2996, 60007, 70050, 70500, 72003 };

        readonly object gate = new object();
        readonly long sdkAppId;
        readonly SdkConfig config;
        readonly Dispatcher dispatcher;
        readonly string instanceId = Guid.NewGuid().ToString("N");
        readonly System.Random random = new System.Random();
        State state = State.Idle;
        int epoch;
        Link link;
        string userID = "";
        string userSig = "";
        IDictionary<string, object> session;
        string kickType = MultipleAccount;
        int attempt;
        Timer reconnectTimer;
        bool loginRunning;
        long callSeq;
        string selfCustomStatus = "";
        long clockOffsetMs;
        /// <summary>Pushes that came before the login reply was handled; reported right after it.</summary>
        List<List<UserStatus>> early = new List<List<UserStatus>>();
        /// <summary>S23: each user's status as the game last heard it (pushes, queries, sync).</summary>
        Dictionary<string, UserStatus> lastReported = new Dictionary<string, UserStatus>();

        UserStatusChangedCallback statusCallback;
        UserStatusChangedStringCallback statusStringCallback;
        NetworkStatusListenerCallback networkCallback;
        KickedOfflineCallback kickedCallback;
        KickedOfflineReasonCallback kickedReasonCallback;
        UserSigExpiredCallback sigExpiredCallback;

        /// <summary>A new instance for the app `sdkAppId`; config.presently_server_url says where the server is.</summary>
        public TIMClient(long sdkAppId, SdkConfig config)
        {
            if (config == null) throw new ArgumentNullException("config");
            if (string.IsNullOrEmpty(config.presently_server_url)) throw new ArgumentException("SdkConfig.presently_server_url is required (e.g. ws://127.0.0.1:8080)");
            Uri uri;
            if (!Uri.TryCreate(config.presently_server_url, UriKind.Absolute, out uri) || (uri.Scheme != "ws" && uri.Scheme != "wss"))
                throw new ArgumentException("SdkConfig.presently_server_url must be a ws:// or wss:// address, got " + config.presently_server_url);
            this.sdkAppId = sdkAppId;
            this.config = config;
            dispatcher = new Dispatcher(config.presently_callback_mode, Log);
        }

        // ---- callbacks and queue ------------------------------------------------------------------

        public void SetUserStatusChangedCallback(UserStatusChangedCallback cb) { lock (gate) statusCallback = cb; }
        public void SetUserStatusChangedCallback(UserStatusChangedStringCallback cb) { lock (gate) statusStringCallback = cb; }
        public void SetNetworkStatusListenerCallback(NetworkStatusListenerCallback cb) { lock (gate) networkCallback = cb; }
        public void SetKickedOfflineCallback(KickedOfflineCallback cb) { lock (gate) kickedCallback = cb; }
        public void SetKickedOfflineReasonCallback(KickedOfflineReasonCallback cb) { lock (gate) kickedReasonCallback = cb; }
        public void SetUserSigExpiredCallback(UserSigExpiredCallback cb) { lock (gate) sigExpiredCallback = cb; }

        /// <summary>Queue mode: runs the callbacks waiting now, on the calling thread (call it from Update()).</summary>
        public int DispatchCallbacks() { return dispatcher.Drain(); }

        /// <summary>Queue mode: waits up to timeoutMs for a callback to be queued (console programs, tests).</summary>
        public bool WaitForCallbacks(int timeoutMs) { return dispatcher.WaitForCallbacks(timeoutMs); }

        // ---- state queries ------------------------------------------------------------------------

        public TIMLoginStatus GetLoginStatus()
        {
            lock (gate)
            {
                switch (state)
                {
                    case State.Ready:
                    case State.Disconnected:
                    case State.Reconnecting: return TIMLoginStatus.kTIMLoginStatus_Logined;
                    case State.LoggingIn: return TIMLoginStatus.kTIMLoginStatus_Logining;
                    default: return TIMLoginStatus.kTIMLoginStatus_UnLogined;
                }
            }
        }

        public string GetLoginUserID() { lock (gate) return LoggedIn ? userID : ""; }

        /// <summary>The server's clock in seconds, as measured at login (the local clock before).</summary>
        public long GetServerTime()
        {
            lock (gate) return (NowMs() + clockOffsetMs) / 1000;
        }

        static long NowMs() { return (long)(DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalMilliseconds; }

        bool LoggedIn { get { return state == State.Ready || state == State.Disconnected || state == State.Reconnecting; } }

        string NextUserData(string fn) { return fn + "_" + Interlocked.Increment(ref callSeq); }

        // ---- login / logout -------------------------------------------------------------------------

        public TIMResult Login(string user_id, string user_sig, NullValueCallback callback)
        {
            return Login(user_id, user_sig, callback == null ? null : new Action<int, string, string>((c, d, u) => callback(c, d, u)));
        }

        public TIMResult Login(string user_id, string user_sig, ValueCallback<string> callback)
        {
            return Login(user_id, user_sig, callback == null ? null : new Action<int, string, string>((c, d, u) => callback(c, d, "", u)));
        }

        TIMResult Login(string user_id, string user_sig, Action<int, string, string> done)
        {
            if (string.IsNullOrEmpty(user_id) || string.IsNullOrEmpty(user_sig)) return TIMResult.TIM_ERR_PARAM;
            string ud = NextUserData("Login");
            lock (gate)
            {
                if (state == State.Destroyed) return TIMResult.TIM_ERR_SDKUNINIT;
                if (loginRunning) { PostDone(done, ErrorCodes.RepeatedLogin, "a login is already in progress", ud); return TIMResult.TIM_SUCC; }
                if (LoggedIn && session != null && userID == user_id)
                {
                    userSig = user_sig; // a renewed ticket is what the next re-login uses
                    PostDone(done, 0, "", ud);
                    return TIMResult.TIM_SUCC;
                }
                if (LoggedIn) LogoutLocked(null, ud); // logged in as someone else: log that user out first
                userID = user_id;
                userSig = user_sig;
                session = null;
                selfCustomStatus = "";
                lastReported = new Dictionary<string, UserStatus>();
                early = new List<List<UserStatus>>();
                attempt = 0;
                loginRunning = true;
                DetachLink();
                int myEpoch = epoch;
                SetState(State.LoggingIn, null, 0, null);
                Connect(myEpoch, reply =>
                {
                    lock (gate)
                    {
                        loginRunning = false;
                        if (myEpoch != epoch)
                        {
                            PostDone(done, NotReadyCode(), "the login was superseded", ud);
                            return;
                        }
                        if (!reply.Ok)
                        {
                            var dead = DetachLink();
                            if (dead != null) dead.Close("login failed", reply.Code, false);
                            SetState(State.LoginFailed, null, 0, null);
                            PostDone(done, reply.Code, reply.Message, ud);
                            return;
                        }
                        SetState(State.Ready, null, 0, null);
                        PostDone(done, 0, "", ud);
                        FlushEarly();
                    }
                });
            }
            return TIMResult.TIM_SUCC;
        }

        /// <summary>
        /// Opens a link and logs in on it with the stored userID/userSig and this instance's id.
        /// `done` runs once, under no lock: on the receive thread as the login reply is read (so
        /// pushes behind it on the wire come after it), or wherever the failure happened.
        /// </summary>
        void Connect(int myEpoch, Action<Reply> done)
        {
            string url = config.presently_server_url;
            ThreadPool.QueueUserWorkItem(async _ =>
            {
                Link l;
                try
                {
                    l = await Link.Open(url, config.presently_connect_timeout_ms, f => OnFrame(myEpoch, f), (c, r) => OnLinkClosed(myEpoch, c, r)).ConfigureAwait(false);
                }
                catch (PresentlyException e)
                {
                    done(new Reply(e.Code, e.Message, null));
                    return;
                }
                catch (Exception e)
                {
                    done(new Reply(ErrorCodes.NetworkError, e.Message, null));
                    return;
                }
                Dictionary<string, object> fields;
                lock (gate)
                {
                    if (myEpoch != epoch)
                    {
                        l.Close("abandoned", ErrorCodes.SdkNotReady, false);
                        done(new Reply(NotReadyCode(), "abandoned", null));
                        return;
                    }
                    link = l;
                    fields = new Dictionary<string, object>
                    {
                        { "SDKAppID", sdkAppId }, { "userID", userID }, { "userSig", userSig },
                        { "platform", config.presently_platform ?? "Unity" }, { "instanceId", instanceId },
                    };
                }
                long sentAt = NowMs();
                l.Request("login", fields, config.presently_request_timeout_ms, reply =>
                {
                    if (reply.Ok)
                    {
                        lock (gate)
                        {
                            if (myEpoch == epoch)
                            {
                                var data = reply.Obj ?? new Dictionary<string, object>();
                                long? serverTime = Json.Num(data, "serverTime");
                                if (serverTime.HasValue) clockOffsetMs = serverTime.Value - (sentAt + NowMs()) / 2;
                                selfCustomStatus = Json.Str(data, "customStatus") ?? "";
                                session = data;
                                long interval = Json.Num(data, "heartbeatIntervalMs") ?? 30000;
                                if (interval <= 0) interval = 30000;
                                long timeout = Json.Num(data, "heartbeatTimeoutMs") ?? 3 * interval;
                                if (timeout <= 0) timeout = 3 * interval;
                                l.StartHeartbeat((int)interval, (int)Math.Min(timeout, 2 * interval + config.presently_heartbeat_grace_ms));
                            }
                        }
                    }
                    done(reply);
                });
            });
        }

        public TIMResult Logout(NullValueCallback callback)
        {
            return Logout(callback == null ? null : new Action<int, string, string>((c, d, u) => callback(c, d, u)));
        }

        public TIMResult Logout(ValueCallback<string> callback)
        {
            return Logout(callback == null ? null : new Action<int, string, string>((c, d, u) => callback(c, d, "", u)));
        }

        TIMResult Logout(Action<int, string, string> done)
        {
            string ud = NextUserData("Logout");
            lock (gate)
            {
                if (state == State.Destroyed) return TIMResult.TIM_ERR_SDKUNINIT;
                if (!LoggedIn)
                {
                    PostDone(done, ErrorCodes.NotLoggedIn, "not logged in", ud);
                    return TIMResult.TIM_SUCC;
                }
                LogoutLocked(done, ud);
            }
            return TIMResult.TIM_SUCC;
        }

        void LogoutLocked(Action<int, string, string> done, string ud)
        {
            bool wasConnected = state == State.Ready;
            var l = DetachLink();
            SetState(State.LoggedOut, null, 0, null);
            if (l != null && wasConnected)
            {
                // The server marks the session logged out (S4) and closes with 4002.
                l.Request("logout", null, config.presently_request_timeout_ms, reply =>
                {
                    l.Close("logged out", ErrorCodes.LoggedOut, false);
                    lock (gate) PostDone(done, 0, "", ud);
                });
            }
            else
            {
                if (l != null) l.Close("logged out", ErrorCodes.LoggedOut, false);
                PostDone(done, 0, "", ud);
            }
        }

        /// <summary>Ends the instance: logs out when connected, stops timers; no callback runs after it.</summary>
        public void Uninit()
        {
            lock (gate)
            {
                if (state == State.Destroyed) return;
                bool wasConnected = state == State.Ready;
                var l = DetachLink();
                state = State.Destroyed;
                statusCallback = null;
                statusStringCallback = null;
                networkCallback = null;
                kickedCallback = null;
                kickedReasonCallback = null;
                sigExpiredCallback = null;
                if (l != null)
                {
                    if (wasConnected) l.Request("logout", null, 2000, _ => l.Close("destroyed", ErrorCodes.SdkNotReady, false));
                    else l.Close("destroyed", ErrorCodes.SdkNotReady, false);
                }
            }
            dispatcher.Stop();
        }

        // ---- status calls -------------------------------------------------------------------------

        /// <summary>Sets (or, with an empty or null user_status_custom_status, clears) the own custom status (S7, S8).</summary>
        public TIMResult SetSelfStatus(UserStatus json_current_user_status, NullValueCallback callback)
        {
            return SetSelfStatus(json_current_user_status, callback == null ? null : new Action<int, string, string>((c, d, u) => callback(c, d, u)));
        }

        public TIMResult SetSelfStatus(UserStatus json_current_user_status, ValueCallback<string> callback)
        {
            return SetSelfStatus(json_current_user_status, callback == null ? null : new Action<int, string, string>((c, d, u) => callback(c, d, "", u)));
        }

        TIMResult SetSelfStatus(UserStatus status, Action<int, string, string> done)
        {
            if (status == null) return TIMResult.TIM_ERR_PARAM;
            string ud = NextUserData("SetSelfStatus");
            string custom = status.user_status_custom_status ?? "";
            lock (gate)
            {
                Link l;
                if (!ReadyLink(out l)) { PostDone(done, NotReadyCode(), NotReadyMessage(), ud); return TIMResult.TIM_SUCC; }
                int myEpoch = epoch;
                l.Request("setSelfStatus", new Dictionary<string, object> { { "customStatus", custom } }, config.presently_request_timeout_ms, reply =>
                {
                    lock (gate)
                    {
                        if (reply.Ok && myEpoch == epoch)
                        {
                            var s = ToStatus(reply.Data);
                            if (s != null) Remember(new List<UserStatus> { s });
                        }
                        PostDone(done, reply.Code, reply.Message, ud);
                    }
                });
            }
            return TIMResult.TIM_SUCC;
        }

        /// <summary>Statuses of these users: the own one first (answered locally), the others in the order asked (S11).</summary>
        public TIMResult GetUserStatus(List<string> json_identifier_array, ValueCallback<List<UserStatus>> callback)
        {
            return GetUserStatus(json_identifier_array, (c, d, r, u) => { if (callback != null) callback(c, d, r == null ? new List<UserStatus>() : r.success_list, u); });
        }

        /// <summary>The same, as a JSON array of UserStatus objects.</summary>
        public TIMResult GetUserStatus(List<string> json_identifier_array, ValueCallback<string> callback)
        {
            return GetUserStatus(json_identifier_array, (c, d, r, u) =>
            {
                if (callback == null) return;
                var list = new List<object>();
                if (r != null) foreach (var s in r.success_list) list.Add(s.ToJsonObject());
                callback(c, d, Json.Serialize(list), u);
            });
        }

        /// <summary>Presently's addition: the statuses and the ids that failed (70107 not an account, 72002 past the per-call limit).</summary>
        public TIMResult GetUserStatus(List<string> json_identifier_array, ValueCallback<UserStatusResult> callback)
        {
            if (json_identifier_array == null) return TIMResult.TIM_ERR_PARAM;
            string ud = NextUserData("GetUserStatus");
            var asked = Unique(json_identifier_array);
            lock (gate)
            {
                Link l;
                if (!ReadyLink(out l)) { PostValue(callback, NotReadyCode(), NotReadyMessage(), null, ud); return TIMResult.TIM_SUCC; }
                var result = new UserStatusResult();
                var others = new List<string>();
                foreach (var id in asked) if (id != userID) others.Add(id);
                if (others.Count < asked.Count)
                    result.success_list.Add(new UserStatus { user_status_identifier = userID, user_status_status_type = TIMUserStatusType.kTIMUserStatusType_Online, user_status_custom_status = selfCustomStatus });
                if (others.Count == 0)
                {
                    PostValue(callback, 0, "", result, ud);
                    return TIMResult.TIM_SUCC;
                }
                var sent = Trim("GetUserStatus", others, Limit("maxQueryIDs", 500), result.failure_list);
                int myEpoch = epoch;
                l.Request("getUserStatus", new Dictionary<string, object> { { "userIDList", sent } }, config.presently_request_timeout_ms, reply =>
                {
                    lock (gate)
                    {
                        if (!reply.Ok) { PostValue(callback, reply.Code, reply.Message, null, ud); return; }
                        var got = ToStatusList(Json.List(reply.Obj, "successUserList"));
                        if (myEpoch == epoch) Remember(got);
                        result.success_list.AddRange(got);
                        var failures = ToFailures(Json.List(reply.Obj, "failureUserList"));
                        failures.AddRange(result.failure_list);
                        result.failure_list = failures;
                        PostValue(callback, 0, "", result, ud);
                    }
                });
            }
            return TIMResult.TIM_SUCC;
        }

        /// <summary>From now on the status callback reports these users' changes (S15).</summary>
        public TIMResult SubscribeUserStatus(List<string> json_identifier_array, NullValueCallback callback)
        {
            return ListCall("subscribeUserStatus", json_identifier_array, false, (c, d, r, u) => { if (callback != null) callback(c, d, u); });
        }

        /// <summary>The same; the data is a JSON array of the ids that failed ({identifier, code, desc}), "[]" when none.</summary>
        public TIMResult SubscribeUserStatus(List<string> json_identifier_array, ValueCallback<string> callback)
        {
            return ListCall("subscribeUserStatus", json_identifier_array, false, FailuresAsJson(callback));
        }

        public TIMResult SubscribeUserStatus(List<string> json_identifier_array, ValueCallback<List<UserStatusFailure>> callback)
        {
            return ListCall("subscribeUserStatus", json_identifier_array, false, callback);
        }

        /// <summary>Stops these subscriptions; an empty or null list stops all of them (S19).</summary>
        public TIMResult UnsubscribeUserStatus(List<string> json_identifier_array, NullValueCallback callback)
        {
            return ListCall("unsubscribeUserStatus", json_identifier_array, true, (c, d, r, u) => { if (callback != null) callback(c, d, u); });
        }

        public TIMResult UnsubscribeUserStatus(List<string> json_identifier_array, ValueCallback<string> callback)
        {
            return ListCall("unsubscribeUserStatus", json_identifier_array, true, FailuresAsJson(callback));
        }

        public TIMResult UnsubscribeUserStatus(List<string> json_identifier_array, ValueCallback<List<UserStatusFailure>> callback)
        {
            return ListCall("unsubscribeUserStatus", json_identifier_array, true, callback);
        }

        static ValueCallback<List<UserStatusFailure>> FailuresAsJson(ValueCallback<string> callback)
        {
            return (c, d, r, u) =>
            {
                if (callback == null) return;
                var list = new List<object>();
                if (r != null) foreach (var f in r) list.Add(f.ToJsonObject());
                callback(c, d, Json.Serialize(list), u);
            };
        }

        TIMResult ListCall(string op, List<string> ids, bool emptyMeansAll, ValueCallback<List<UserStatusFailure>> callback)
        {
            if (ids == null && !emptyMeansAll) return TIMResult.TIM_ERR_PARAM;
            string ud = NextUserData(op == "subscribeUserStatus" ? "SubscribeUserStatus" : "UnsubscribeUserStatus");
            lock (gate)
            {
                Link l;
                if (!ReadyLink(out l)) { PostValue(callback, NotReadyCode(), NotReadyMessage(), null, ud); return TIMResult.TIM_SUCC; }
                var left = new List<UserStatusFailure>();
                var fields = new Dictionary<string, object>();
                if (ids != null && ids.Count > 0) fields["userIDList"] = Trim(op, Unique(ids), Limit("maxSubscribeIDsPerCall", 100), left);
                l.Request(op, fields, config.presently_request_timeout_ms, reply =>
                {
                    lock (gate)
                    {
                        if (!reply.Ok) { PostValue(callback, reply.Code, reply.Message, null, ud); return; }
                        var failures = ToFailures(Json.List(reply.Obj, "failureUserList"));
                        failures.AddRange(left);
                        PostValue(callback, 0, "", failures, ud);
                    }
                });
            }
            return TIMResult.TIM_SUCC;
        }

        static List<string> Unique(List<string> ids)
        {
            var seen = new HashSet<string>();
            var outList = new List<string>();
            foreach (var id in ids) if (id != null && seen.Add(id)) outList.Add(id);
            return outList;
        }

        /// <summary>The app's per-call limit as the server announced it at login, else the default.</summary>
        int Limit(string name, int fallback)
        {
            long? v = Json.Num(Json.Obj(session, "limits"), name);
            return v.HasValue && v.Value > 0 && v.Value <= int.MaxValue ? (int)v.Value : fallback;
        }

        /// <summary>Cuts a list at `max` (S14, S15): the ids to send; each one left out is reported with 72002.</summary>
        List<string> Trim(string call, List<string> ids, int max, List<UserStatusFailure> left)
        {
            if (ids.Count <= max) return ids;
            Log(call + ": " + ids.Count + " userIDs, more than the " + max + " allowed in one call; the rest are not sent");
            for (int k = max; k < ids.Count; k++)
                left.Add(new UserStatusFailure { identifier = ids[k], code = ErrorCodes.TooManyIds, desc = "not sent: more than " + max + " userIDs in one call" });
            return ids.GetRange(0, max);
        }

        bool ReadyLink(out Link l)
        {
            l = link;
            return state == State.Ready && l != null;
        }

        int NotReadyCode()
        {
            switch (state)
            {
                case State.Idle: return ErrorCodes.NotLoggedIn;
                case State.LoggingIn: return ErrorCodes.LoggingIn;
                case State.LoginFailed: return ErrorCodes.LoginFailed;
                case State.LoggedOut: return ErrorCodes.LoggedOut;
                case State.Kicked: return KickCode(kickType);
                case State.Disconnected:
                case State.Reconnecting: return ErrorCodes.NetworkError;
                default: return ErrorCodes.SdkNotReady;
            }
        }

        string NotReadyMessage()
        {
            switch (state)
            {
                case State.Idle: return "not logged in";
                case State.LoggingIn: return "logging in";
                case State.LoginFailed: return "login failed";
                case State.LoggedOut: return "logged out";
                case State.Kicked: return "kicked out (" + kickType + ")";
                case State.Disconnected:
                case State.Reconnecting: return "the connection is down; reconnecting";
                default: return "SDK not ready";
            }
        }

        static int KickCode(string type)
        {
            switch (type)
            {
                case MultipleDevice: return ErrorCodes.KickedMultipleDevice;
                case UserSigExpired: return ErrorCodes.KickedUserSigExpired;
                case RestApiKick: return ErrorCodes.KickedRestApi;
                default: return ErrorCodes.KickedMultipleAccount;
            }
        }

        static bool IsKickType(string t) { return t == MultipleDevice || t == MultipleAccount || t == UserSigExpired || t == RestApiKick; }

        // ---- the one state change -----------------------------------------------------------------

        static TIMNetworkStatus NetOf(State s)
        {
            if (s == State.Ready) return TIMNetworkStatus.kTIMConnected;
            if (s == State.LoggingIn || s == State.Reconnecting) return TIMNetworkStatus.kTIMConnecting;
            return TIMNetworkStatus.kTIMDisconnected;
        }

        /// <summary>Changes state (under gate) and posts: the network status when it differs, then the kick.</summary>
        void SetState(State next, string kick, int errorCode, string errorDesc)
        {
            State prev = state;
            if (prev == next) return;
            state = next;
            Log("state " + prev + " -> " + next);
            if (next == State.Destroyed) return;
            var prevNet = NetOf(prev);
            var nextNet = NetOf(next);
            if (prevNet != nextNet || errorCode != 0)
            {
                var cb = networkCallback;
                var status = next == State.LoginFailed ? TIMNetworkStatus.kTIMConnectFailed : nextNet;
                int code = errorCode;
                string desc = errorDesc ?? "";
                if (cb != null) dispatcher.Post(() => cb(status, code, desc, ""));
            }
            if (next == State.Kicked && kick != null)
            {
                var reason = kickedReasonCallback;
                if (reason != null) dispatcher.Post(() => reason(kick, ""));
                if (kick == UserSigExpired)
                {
                    var cb = sigExpiredCallback;
                    if (cb != null) dispatcher.Post(() => cb(""));
                }
                else
                {
                    var cb = kickedCallback;
                    if (cb != null) dispatcher.Post(() => cb(""));
                }
            }
        }

        /// <summary>Forgets the current link (epoch bump) and any scheduled reconnect.</summary>
        Link DetachLink()
        {
            epoch++;
            if (reconnectTimer != null) reconnectTimer.Dispose();
            reconnectTimer = null;
            early = new List<List<UserStatus>>();
            var l = link;
            link = null;
            return l;
        }

        // ---- frames and connection loss ----------------------------------------------------------

        void OnFrame(int myEpoch, IDictionary<string, object> frame)
        {
            lock (gate)
            {
                if (myEpoch != epoch) return; // a stale link
                switch (Json.Str(frame, "op"))
                {
                    case "userStatusUpdated":
                        {
                            object data;
                            frame.TryGetValue("data", out data);
                            var list = ToStatusList(data as List<object>);
                            if (list.Count == 0) return;
                            if (state == State.Ready) Report(list);
                            else if (state == State.LoggingIn || state == State.Reconnecting) early.Add(list);
                            return;
                        }
                    case "kickedOut":
                        {
                            string type = Json.Str(Json.Obj(frame, "data"), "type");
                            Kicked(IsKickType(type) ? type : DefaultKickType());
                            return;
                        }
                    default:
                        return; // heartbeat answers, error frames, anything newer than this SDK
                }
            }
        }

        void OnLinkClosed(int myEpoch, int code, string reason)
        {
            lock (gate)
            {
                if (myEpoch != epoch) return;
                // During login or a reconnect, the attempt's own request fails and handles it.
                if (state != State.Ready) return;
                DetachLink();
                Log("connection lost (" + code + " " + reason + ")");
                switch (code)
                {
                    case 4001:
                        Kicked(IsKickType(reason) ? reason : DefaultKickType());
                        return;
                    case 4002:
                        SetState(State.LoggedOut, null, 0, null);
                        return;
                    case 4010:
                        ScheduleReconnect(random.NextDouble() * config.presently_restart_delay_max_ms);
                        return;
                    default:
                        ReconnectWithBackoff();
                        return;
                }
            }
        }

        /// <summary>S26 default policy: a Web session is pushed out by another web instance, a native one by a device.</summary>
        string DefaultKickType() { return config.presently_platform == "Web" ? MultipleAccount : MultipleDevice; }

        void Kicked(string type)
        {
            kickType = type;
            var l = DetachLink();
            if (l != null) l.Close("kicked", KickCode(type), false);
            SetState(State.Kicked, type, 0, null);
        }

        /// <summary>Full-jitter exponential backoff: a random delay in [0, min(cap, base x 2^attempt)).</summary>
        public static double Backoff(int attempt, int baseMs, int capMs, double random01)
        {
            double window = Math.Min(capMs, baseMs * Math.Pow(2, Math.Max(0, Math.Min(attempt, 30))));
            return random01 * window;
        }

        void ReconnectWithBackoff()
        {
            int n = attempt++;
            ScheduleReconnect(Backoff(n, config.presently_backoff_base_ms, config.presently_backoff_cap_ms, random.NextDouble()));
        }

        void ScheduleReconnect(double delayMs)
        {
            Log("reconnect in " + (int)delayMs + " ms");
            int myEpoch = epoch;
            if (reconnectTimer != null) reconnectTimer.Dispose();
            reconnectTimer = new Timer(_ => Reconnect(myEpoch), null, (int)delayMs, Timeout.Infinite);
            SetState(State.Disconnected, null, 0, null);
        }

        /// <summary>One reconnect attempt: log in again with the same ticket and instance id, then catch up (S23).</summary>
        void Reconnect(int scheduledEpoch)
        {
            lock (gate)
            {
                if (scheduledEpoch != epoch || state != State.Disconnected) return;
                int myEpoch = ++epoch;
                reconnectTimer = null;
                SetState(State.Reconnecting, null, 0, null);
                Connect(myEpoch, reply =>
                {
                    lock (gate)
                    {
                        if (myEpoch != epoch) return;
                        if (!reply.Ok)
                        {
                            var dead = DetachLink();
                            if (dead != null) dead.Close("re-login failed", reply.Code, false);
                            OnReloginFailed(reply);
                            return;
                        }
                        attempt = 0;
                        // The catch-up request goes out before the game hears "connected", so any
                        // call it makes then is answered after the catch-up.
                        Resync(myEpoch);
                        SetState(State.Ready, null, 0, null);
                        FlushEarly();
                    }
                });
            }
        }

        /// <summary>70001 / 70052 end the login for good (reported as kicks); busy or network: retry; else failed.</summary>
        void OnReloginFailed(Reply reply)
        {
            Log("re-login failed: " + reply.Code + " " + reply.Message);
            if (reply.Code == 70001) { Kicked(UserSigExpired); return; }
            if (reply.Code == 70052) { Kicked(RestApiKick); return; }
            if (RetryableLoginCodes.Contains(reply.Code))
            {
                ReconnectWithBackoff();
                return;
            }
            SetState(State.LoginFailed, null, reply.Code, reply.Message);
        }

        /// <summary>
        /// S23: pushes missed while away are not replayed; ask for the statuses of self,
        /// subscriptions and friends, and report in one callback every user whose status differs
        /// from what the game last heard (or that it never heard of).
        /// </summary>
        void Resync(int myEpoch)
        {
#if PRESENTLY_BREAK_NO_RESYNC
            // A deliberately broken build (tests/unity.test.ts): no catch-up after a reconnect.
            return;
#else
            var l = link;
            if (l == null) return;
            l.Request("syncStatus", null, config.presently_request_timeout_ms, reply =>
            {
                lock (gate)
                {
                    if (myEpoch != epoch) return;
                    if (!reply.Ok)
                    {
                        Log("status sync failed: " + reply.Code + " " + reply.Message);
                        return;
                    }
                    // Taken as the reply is read: a push behind it on the wire is newer and is reported after it.
                    var list = ToStatusList(Json.List(reply.Obj, "userList"));
                    var changed = new List<UserStatus>();
                    foreach (var s in list)
                    {
                        UserStatus last;
                        if (!lastReported.TryGetValue(s.user_status_identifier, out last) || last.user_status_status_type != s.user_status_status_type || last.user_status_custom_status != s.user_status_custom_status)
                            changed.Add(s);
                    }
                    // Everyone whose changes reach us is in the sync; nobody else needs remembering.
                    lastReported = new Dictionary<string, UserStatus>();
                    foreach (var s in list) lastReported[s.user_status_identifier] = s;
                    UserStatus self;
                    if (lastReported.TryGetValue(userID, out self)) selfCustomStatus = self.user_status_custom_status;
                    if (changed.Count > 0) PostStatuses(changed);
                }
            });
#endif
        }

        void FlushEarly()
        {
            var pendingLists = early;
            early = new List<List<UserStatus>>();
            foreach (var list in pendingLists) Report(list);
        }

        void Report(List<UserStatus> list)
        {
            Remember(list);
            PostStatuses(list);
        }

        void Remember(List<UserStatus> list)
        {
            foreach (var s in list)
            {
                lastReported[s.user_status_identifier] = s;
                if (s.user_status_identifier == userID) selfCustomStatus = s.user_status_custom_status;
            }
        }

        void PostStatuses(List<UserStatus> list)
        {
            var typed = statusCallback;
            var text = statusStringCallback;
            if (typed != null)
            {
                var copy = new List<UserStatus>(list);
                dispatcher.Post(() => typed(copy, ""));
            }
            if (text != null)
            {
                var items = new List<object>();
                foreach (var s in list) items.Add(s.ToJsonObject());
                string json = Json.Serialize(items);
                dispatcher.Post(() => text(json, ""));
            }
        }

        void PostDone(Action<int, string, string> done, int code, string desc, string ud)
        {
            if (done == null) return;
            dispatcher.Post(() => done(code, desc ?? "", ud));
        }

        void PostValue<T>(ValueCallback<T> cb, int code, string desc, T data, string ud)
        {
            if (cb == null) return;
            dispatcher.Post(() => cb(code, desc ?? "", data, ud));
        }

        // ---- conversions ----------------------------------------------------------------------------

        static UserStatus ToStatus(object raw)
        {
            var o = raw as IDictionary<string, object>;
            string id = Json.Str(o, "userID");
            if (id == null) return null;
            long type = Json.Num(o, "statusType") ?? 0;
            return new UserStatus
            {
                user_status_identifier = id,
                user_status_status_type = type >= 0 && type <= 3 ? (TIMUserStatusType)type : TIMUserStatusType.kTIMUserStatusType_Unkown,
                user_status_custom_status = Json.Str(o, "customStatus") ?? "",
            };
        }

        static List<UserStatus> ToStatusList(List<object> raw)
        {
            var list = new List<UserStatus>();
            if (raw == null) return list;
            foreach (var item in raw)
            {
                var s = ToStatus(item);
                if (s != null) list.Add(s);
            }
            return list;
        }

        static List<UserStatusFailure> ToFailures(List<object> raw)
        {
            var list = new List<UserStatusFailure>();
            if (raw == null) return list;
            foreach (var item in raw)
            {
                var o = item as IDictionary<string, object>;
                string id = Json.Str(o, "userID");
                if (id == null) continue;
                list.Add(new UserStatusFailure { identifier = id, code = (int)(Json.Num(o, "code") ?? 0), desc = Json.Str(o, "message") ?? "" });
            }
            return list;
        }

        void Log(string line)
        {
            var logger = config.presently_logger;
            if (logger == null) return;
            try { logger("Presently: " + line); } catch { }
        }
    }
}
