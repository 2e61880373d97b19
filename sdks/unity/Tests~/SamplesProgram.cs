// Runs the Unity guide's samples (Samples~/UserStatus) against a real Presently server, as a
// console program: tests/unity.test.ts starts it with the server's address, the app and a
// ticket for "userID", and makes "userID1" change while it listens. Each step prints one JSON
// line; the exit code is 0 when every step behaved.
//   mono UserStatusSamples.exe ws://127.0.0.1:PORT SDKAPPID USERSIG
using System;
using System.Collections.Generic;
using System.Diagnostics;
using com.tencent.imsdk.unity;
using com.tencent.imsdk.unity.enums;
using com.tencent.imsdk.unity.types;
using Presently.Unity;

public static class SamplesProgram
{
    static void Say(Dictionary<string, object> line) { Console.Out.WriteLine(Json.Serialize(line)); Console.Out.Flush(); }

    static void Fail(string why)
    {
        Say(new Dictionary<string, object> { { "step", "failed" }, { "why", why } });
        Environment.Exit(1);
    }

    /// <summary>A game loop: drains the callback queue (what Update() does) until `done` or the bound.</summary>
    static void PumpUntil(Func<bool> done, int timeoutMs, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!done())
        {
            if (watch.ElapsedMilliseconds > timeoutMs) Fail(what + " did not happen within " + timeoutMs + " ms");
            TencentIMSDK.Client.WaitForCallbacks(20);
            TencentIMSDK.Update();
        }
    }

    static object StatusJson(UserStatus s)
    {
        return new Dictionary<string, object> { { "id", s.user_status_identifier }, { "type", (int)s.user_status_status_type }, { "custom", s.user_status_custom_status } };
    }

    public static int Main(string[] args)
    {
        if (args.Length != 3) { Console.Error.WriteLine("usage: UserStatusSamples.exe ws://HOST:PORT SDKAPPID USERSIG"); return 2; }
        if (UserStatusSample.Initialise(args[0], long.Parse(args[1])) != TIMResult.TIM_SUCC) Fail("Init refused");

        // The samples' own calls must be accepted as written.
        var changes = new List<UserStatus>();
        UserStatusSample.ListenForChanges();
        bool loggedIn = false;
        int loginCode = -1;
        TencentIMSDK.Login("userID", args[2], (int code, string desc, string user_data) => { loginCode = code; loggedIn = true; });
        PumpUntil(() => loggedIn, 10000, "login");
        if (loginCode != 0) Fail("login failed with " + loginCode);
        Say(new Dictionary<string, object> { { "step", "login" }, { "code", loginCode } });

        foreach (var sample in new Dictionary<string, Func<TIMResult>> { { "SetStatus", UserStatusSample.SetStatus }, { "QueryStatus", UserStatusSample.QueryStatus }, { "Subscribe", UserStatusSample.Subscribe } })
        {
            var res = sample.Value();
            Say(new Dictionary<string, object> { { "step", sample.Key }, { "result", res.ToString() } });
            if (res != TIMResult.TIM_SUCC) Fail(sample.Key + " returned " + res);
        }

        // The same calls, with bodies that look at what came back.
        bool got = false;
        TencentIMSDK.GetUserStatus(new List<string> { "userID1", "userID" }, (int code, string desc, List<UserStatus> results, string user_data) =>
        {
            var list = new List<object>();
            foreach (var s in results) list.Add(StatusJson(s));
            Say(new Dictionary<string, object> { { "step", "GetUserStatus" }, { "code", code }, { "results", list } });
            got = true;
        });
        PumpUntil(() => got, 10000, "GetUserStatus");

        // The samples' change callback, replaced by one that records; the test now changes userID1.
        TencentIMSDK.SetUserStatusChangedCallback((List<UserStatus> json_user_status_array, string user_data) => changes.AddRange(json_user_status_array));
        got = false;
        TencentIMSDK.SubscribeUserStatus(new List<string> { "userID1" }, (int code, string desc, string result, string user_data) =>
        {
            Say(new Dictionary<string, object> { { "step", "SubscribeUserStatus" }, { "code", code }, { "result", result } });
            got = true;
        });
        PumpUntil(() => got, 10000, "SubscribeUserStatus");
        Say(new Dictionary<string, object> { { "step", "listening" } });
        PumpUntil(() => changes.Exists(s => s.user_status_identifier == "userID1" && s.user_status_custom_status == "playing"), 15000, "hearing userID1 play");
        var heard = new List<object>();
        foreach (var s in changes) heard.Add(StatusJson(s));
        Say(new Dictionary<string, object> { { "step", "UserStatusChanged" }, { "heard", heard } });

        var unsub = UserStatusSample.Unsubscribe();
        if (unsub != TIMResult.TIM_SUCC) Fail("Unsubscribe returned " + unsub);
        got = false;
        TencentIMSDK.Logout((int code, string desc, string user_data) => { Say(new Dictionary<string, object> { { "step", "logout" }, { "code", code } }); got = true; });
        PumpUntil(() => got, 10000, "logout");
        TencentIMSDK.Uninit();
        return 0;
    }
}
