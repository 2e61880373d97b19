// The Unity SDK's adapter for the conformance kit (conformance/README.md): one JSON command per
// line on stdin, one JSON result or event per line on stdout. It hosts one TIMClient per
// `client` name, in the default Queue callback mode, and drains the queues from its main loop
// the way a game drains them from Update(), so the kit exercises the documented threading.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using com.tencent.imsdk.unity.callback;
using com.tencent.imsdk.unity.enums;
using com.tencent.imsdk.unity.types;
using Presently.Unity;

public static class ConformanceAdapter
{
    static readonly object outLock = new object();
    static readonly object clientsLock = new object();
    static readonly Dictionary<string, TIMClient> clients = new Dictionary<string, TIMClient>();
    static TextWriter stdout;
    static volatile bool inputClosed;

    public static int Main()
    {
        stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        Write(new Dictionary<string, object> { { "event", "hello" }, { "sdk", "Presently.Unity" }, { "version", "0.1.0" }, { "language", "C#" } });
        var reader = new Thread(() =>
        {
            string line;
            while ((line = stdin.ReadLine()) != null)
            {
                if (line.Trim().Length == 0) continue;
                Handle(line);
            }
            inputClosed = true;
        }) { IsBackground = true };
        reader.Start();
        // The "game loop": drain every instance's callback queue, as Update() would each frame.
        while (!inputClosed)
        {
            List<TIMClient> snapshot;
            lock (clientsLock) snapshot = new List<TIMClient>(clients.Values);
            int ran = 0;
            foreach (var c in snapshot) ran += c.DispatchCallbacks();
            foreach (var c in retired) ran += c.DispatchCallbacks();
            if (ran == 0) Thread.Sleep(2);
        }
        lock (clientsLock)
        {
            foreach (var c in clients.Values) c.Uninit();
            clients.Clear();
        }
        Thread.Sleep(100); // let the logouts go out
        return 0;
    }

    // Instances ended by destroy/reset whose queues may still hold callbacks (their results).
    static readonly List<TIMClient> retired = new List<TIMClient>();

    static void Write(Dictionary<string, object> msg)
    {
        string line = Json.Serialize(msg);
        lock (outLock) stdout.WriteLine(line);
    }

    static void Result(object id, int code, string message, object data)
    {
        var msg = new Dictionary<string, object> { { "id", id }, { "ok", code == 0 } };
        if (code == 0) msg["data"] = data ?? new Dictionary<string, object>();
        else { msg["code"] = code; msg["message"] = message ?? ""; }
        Write(msg);
    }

    static object StatusJson(UserStatus s)
    {
        return new Dictionary<string, object> { { "userID", s.user_status_identifier }, { "statusType", (int)s.user_status_status_type }, { "customStatus", s.user_status_custom_status ?? "" } };
    }

    static List<object> FailuresJson(List<UserStatusFailure> list)
    {
        var outList = new List<object>();
        if (list != null) foreach (var f in list) outList.Add(new Dictionary<string, object> { { "userID", f.identifier }, { "code", f.code } });
        return outList;
    }

    static List<string> Ids(IDictionary<string, object> cmd)
    {
        var raw = Json.List(cmd, "userIDList");
        if (raw == null) return null;
        var ids = new List<string>();
        foreach (var x in raw) ids.Add(x as string);
        return ids;
    }

    static void Handle(string line)
    {
        IDictionary<string, object> cmd;
        try { cmd = Json.Parse(line) as IDictionary<string, object>; }
        catch (FormatException e) { Write(new Dictionary<string, object> { { "event", "error" }, { "code", 70402 }, { "message", e.Message } }); return; }
        if (cmd == null) return;
        object id;
        cmd.TryGetValue("id", out id);
        string name = Json.Str(cmd, "client");
        try
        {
            switch (Json.Str(cmd, "cmd"))
            {
                case "create": Create(name, cmd); Result(id, 0, null, null); return;
                case "reset":
                    lock (clientsLock)
                    {
                        foreach (var c in clients.Values) { c.Uninit(); retired.Add(c); }
                        clients.Clear();
                    }
                    Result(id, 0, null, null);
                    return;
            }
            TIMClient client;
            lock (clientsLock) clients.TryGetValue(name ?? "", out client);
            if (client == null) { Result(id, 70402, "no client " + name, null); return; }
            TIMResult r;
            switch (Json.Str(cmd, "cmd"))
            {
                case "login":
                    r = client.Login(Json.Str(cmd, "userID"), Json.Str(cmd, "userSig"), (int code, string desc, string ud) => Result(id, code, desc, null));
                    break;
                case "logout":
                    r = client.Logout((int code, string desc, string ud) => Result(id, code, desc, null));
                    break;
                case "setSelfStatus":
                    r = client.SetSelfStatus(new UserStatus { user_status_custom_status = Json.Str(cmd, "customStatus") }, (int code, string desc, string ud) => Result(id, code, desc, null));
                    break;
                case "getUserStatus":
                    r = client.GetUserStatus(Ids(cmd), (int code, string desc, UserStatusResult res, string ud) =>
                    {
                        if (code != 0) { Result(id, code, desc, null); return; }
                        var success = new List<object>();
                        foreach (var s in res.success_list) success.Add(StatusJson(s));
                        Result(id, 0, null, new Dictionary<string, object> { { "successUserList", success }, { "failureUserList", FailuresJson(res.failure_list) } });
                    });
                    break;
                case "subscribeUserStatus":
                    r = client.SubscribeUserStatus(Ids(cmd), (int code, string desc, List<UserStatusFailure> res, string ud) =>
                        Result(id, code, desc, new Dictionary<string, object> { { "failureUserList", FailuresJson(res) } }));
                    break;
                case "unsubscribeUserStatus":
                    r = client.UnsubscribeUserStatus(Ids(cmd), (int code, string desc, List<UserStatusFailure> res, string ud) =>
                        Result(id, code, desc, new Dictionary<string, object> { { "failureUserList", FailuresJson(res) } }));
                    break;
                case "destroy":
                    lock (clientsLock) { clients.Remove(name); retired.Add(client); }
                    client.Uninit();
                    Result(id, 0, null, null);
                    return;
                default:
                    Result(id, 70402, "unknown command " + Json.Str(cmd, "cmd"), null);
                    return;
            }
            if (r != TIMResult.TIM_SUCC) Result(id, r == TIMResult.TIM_ERR_PARAM ? 70402 : 2999, "call refused: " + r, null);
        }
        catch (Exception e)
        {
            Result(id, 2999, e.ToString(), null);
        }
    }

    static int Int(IDictionary<string, object> cmd, string key, int fallback)
    {
        long? v = Json.Num(cmd, key);
        return v.HasValue ? (int)v.Value : fallback;
    }

    static void Create(string name, IDictionary<string, object> cmd)
    {
        var config = new SdkConfig
        {
            presently_server_url = Json.Str(cmd, "url"),
            presently_platform = Json.Str(cmd, "platform") ?? "Unity",
            presently_callback_mode = TIMCallbackMode.Queue,
            presently_backoff_base_ms = Int(cmd, "backoffBaseMs", 500),
            presently_backoff_cap_ms = Int(cmd, "backoffCapMs", 30000),
            presently_heartbeat_grace_ms = Int(cmd, "heartbeatGraceMs", 5000),
            presently_request_timeout_ms = Int(cmd, "requestTimeoutMs", 15000),
            presently_connect_timeout_ms = Int(cmd, "connectTimeoutMs", 10000),
        };
        if (Environment.GetEnvironmentVariable("PRESENTLY_SDK_DEBUG") != null) config.presently_logger = l => Console.Error.WriteLine("[" + name + "] " + l);
        var client = new TIMClient(Json.Num(cmd, "SDKAppID") ?? 0, config);
        client.SetUserStatusChangedCallback((List<UserStatus> list, string ud) =>
        {
            var data = new List<object>();
            foreach (var s in list) data.Add(StatusJson(s));
            Write(new Dictionary<string, object> { { "event", "statusChanged" }, { "client", name }, { "data", data } });
        });
        client.SetKickedOfflineReasonCallback((string type, string ud) => Write(new Dictionary<string, object> { { "event", "kicked" }, { "client", name }, { "type", type } }));
        client.SetNetworkStatusListenerCallback((TIMNetworkStatus status, int code, string desc, string ud) =>
        {
            string state = status == TIMNetworkStatus.kTIMConnected ? "connected" : status == TIMNetworkStatus.kTIMConnecting ? "connecting" : "disconnected";
            Write(new Dictionary<string, object> { { "event", "netState" }, { "client", name }, { "state", state } });
        });
        lock (clientsLock) clients[name] = client;
    }
}
