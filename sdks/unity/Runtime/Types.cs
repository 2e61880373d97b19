// The hosted Unity SDK's public names for the user-status feature, in its namespaces, so a game's
// `using com.tencent.imsdk.unity.*` lines and its user-status code compile unchanged against
// Presently. Only these names exist: messages, conversations, groups and profiles are not part
// of Presently (see README.md, "Differences from the hosted SDK").
using System.Collections.Generic;
using System.Text;

namespace com.tencent.imsdk.unity.enums
{
    /// <summary>What an SDK call returns at once: whether the call was accepted (its outcome comes to the callback).</summary>
    public enum TIMResult
    {
        TIM_SUCC = 0,
        TIM_ERR_SDKUNINIT = -1,
        TIM_ERR_NOTLOGIN = -2,
        TIM_ERR_JSON = -3,
        TIM_ERR_PARAM = -4,
        TIM_ERR_CONV = -5,
        TIM_ERR_GROUP = -6,
    }

    /// <summary>A user's general status (S1). The misspelt first name is the hosted SDK's.</summary>
    public enum TIMUserStatusType
    {
        kTIMUserStatusType_Unkown = 0,
        kTIMUserStatusType_Online = 1,
        kTIMUserStatusType_Offline = 2,
        kTIMUserStatusType_UnLogined = 3,
    }

    /// <summary>The connection's state, as the network status callback reports it.</summary>
    public enum TIMNetworkStatus
    {
        kTIMConnected = 0,
        kTIMDisconnected = 1,
        kTIMConnecting = 2,
        kTIMConnectFailed = 3,
    }

    /// <summary>This instance's login state.</summary>
    public enum TIMLoginStatus
    {
        kTIMLoginStatus_Logined = 1,
        kTIMLoginStatus_Logining = 2,
        kTIMLoginStatus_UnLogined = 3,
        kTIMLoginStatus_Logouting = 4,
    }

    /// <summary>Where callbacks run (Presently's addition; see README.md, "Callbacks and threads").</summary>
    public enum TIMCallbackMode
    {
        /// <summary>Queued until the game calls TencentIMSDK.Update() (from a MonoBehaviour's Update, on the main thread).</summary>
        Queue = 0,
        /// <summary>Run as soon as they happen, on the SDK's own callback thread (never the main thread).</summary>
        Immediate = 1,
    }
}

namespace com.tencent.imsdk.unity.types
{
    using com.tencent.imsdk.unity.enums;

    /// <summary>One user's status, with the hosted SDK's field names.</summary>
    public class UserStatus
    {
        /// <summary>The userID.</summary>
        public string user_status_identifier;
        /// <summary>ONLINE, OFFLINE or UNLOGINED (S1).</summary>
        public TIMUserStatusType user_status_status_type;
        /// <summary>The custom status, "" when there is none (S8). SetSelfStatus reads only this field.</summary>
        public string user_status_custom_status;
        /// <summary>The hosted SDK's online devices; Presently does not report devices, so it is always empty.</summary>
        public List<string> user_status_online_devices = new List<string>();

        public override string ToString()
        {
            return "UserStatus(" + user_status_identifier + ", " + user_status_status_type + ", \"" + user_status_custom_status + "\")";
        }

        internal Dictionary<string, object> ToJsonObject()
        {
            return new Dictionary<string, object>
            {
                { "user_status_identifier", user_status_identifier ?? "" },
                { "user_status_status_type", (int)user_status_status_type },
                { "user_status_custom_status", user_status_custom_status ?? "" },
                { "user_status_online_devices", new List<object>() },
            };
        }
    }

    /// <summary>An id a call could not act on, and why (Presently's addition: the hosted SDK drops these).</summary>
    public class UserStatusFailure
    {
        public string identifier;
        /// <summary>70107 not an account, 72002 left out past the per-call limit, 72004 oneself (subscribe).</summary>
        public int code;
        public string desc;

        internal Dictionary<string, object> ToJsonObject()
        {
            return new Dictionary<string, object> { { "identifier", identifier }, { "code", code }, { "desc", desc ?? "" } };
        }
    }

    /// <summary>GetUserStatus's full answer (Presently's addition): the statuses and the ids that failed.</summary>
    public class UserStatusResult
    {
        public List<UserStatus> success_list = new List<UserStatus>();
        public List<UserStatusFailure> failure_list = new List<UserStatusFailure>();
    }

    /// <summary>
    /// Init's configuration. The hosted SDK's two fields are accepted and unused (Presently keeps no
    /// local files); the others are Presently's: where the server is, and the SDK's timers.
    /// </summary>
    public class SdkConfig
    {
        public string sdk_config_config_file_path;
        public string sdk_config_log_file_path;

        /// <summary>The server's address, e.g. "ws://127.0.0.1:8080" or "wss://presence.example.com". Required.</summary>
        public string presently_server_url;
        /// <summary>The platform this session declares at login (S26: one session per platform by default).</summary>
        public string presently_platform = "Unity";
        /// <summary>Where callbacks run: queued for TencentIMSDK.Update() (default) or at once on the SDK's thread.</summary>
        public TIMCallbackMode presently_callback_mode = TIMCallbackMode.Queue;
        /// <summary>How long a request waits for its reply (ms).</summary>
        public int presently_request_timeout_ms = 15000;
        /// <summary>How long opening the connection may take (ms).</summary>
        public int presently_connect_timeout_ms = 10000;
        /// <summary>Reconnect backoff: the first retry waits a random time below this (ms); the window doubles per failure.</summary>
        public int presently_backoff_base_ms = 500;
        /// <summary>Reconnect backoff: the window never grows past this (ms).</summary>
        public int presently_backoff_cap_ms = 30000;
        /// <summary>After the server restarts (close 4010), reconnect within this random delay (ms).</summary>
        public int presently_restart_delay_max_ms = 1000;
        /// <summary>The connection is lost after min(timeout, 2 x heartbeat interval + this) of silence (ms).</summary>
        public int presently_heartbeat_grace_ms = 5000;
        /// <summary>Receives the SDK's log lines (null: none).</summary>
        public System.Action<string> presently_logger;
    }
}

namespace com.tencent.imsdk.unity.callback
{
    using com.tencent.imsdk.unity.enums;
    using com.tencent.imsdk.unity.types;

    /// <summary>An asynchronous call's outcome: code 0 on success, else the error code and its description.</summary>
    public delegate void ValueCallback<T>(int code, string desc, T data, string user_data);
    /// <summary>An asynchronous call's outcome, without data.</summary>
    public delegate void NullValueCallback(int code, string desc, string user_data);
    /// <summary>Status changes (S20), oldest first, or the differences found after a reconnect (S23).</summary>
    public delegate void UserStatusChangedCallback(List<UserStatus> json_user_status_array, string user_data);
    /// <summary>The same as a JSON array of UserStatus objects.</summary>
    public delegate void UserStatusChangedStringCallback(string json_user_status_array, string user_data);
    public delegate void NetworkStatusListenerCallback(TIMNetworkStatus status, int code, string desc, string user_data);
    /// <summary>This session was kicked: another device or instance logged in, or the app's server kicked it (S27).</summary>
    public delegate void KickedOfflineCallback(string user_data);
    /// <summary>The ticket expired; a new UserSig is needed to log in again.</summary>
    public delegate void UserSigExpiredCallback(string user_data);
    /// <summary>Presently's addition: a kick with its type (multipleDevice, multipleAccount, REST_API_Kick, userSigExpired).</summary>
    public delegate void KickedOfflineReasonCallback(string kick_type, string user_data);
}
