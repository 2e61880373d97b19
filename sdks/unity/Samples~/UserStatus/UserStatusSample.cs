// The Unity guide's user-status samples, as the guide writes them; only Initialise() is new: it
// points the SDK at a Presently server. In Unity, UserStatusSampleBehaviour (below) runs them
// and drains the callback queue every frame; outside Unity, Tests~/SamplesProgram.cs does.
using System.Collections.Generic;
using com.tencent.imsdk.unity;
using com.tencent.imsdk.unity.callback;
using com.tencent.imsdk.unity.enums;
using com.tencent.imsdk.unity.types;

public static class UserStatusSample
{
    /// <summary>The one change a game makes: Init names the Presently server.</summary>
    public static TIMResult Initialise(string serverUrl, long sdkAppId)
    {
        return TencentIMSDK.Init(sdkAppId, new SdkConfig { presently_server_url = serverUrl });
    }

    // ---- the guide's samples, unchanged --------------------------------------------------------

    public static TIMResult SetStatus()
    {
        // Set user status
        UserStatus status = new UserStatus
        {
        user_status_identifier = "userID",
        user_status_status_type = TIMUserStatusType.kTIMUserStatusType_Online
        };
        TIMResult res = TencentIMSDK.SetSelfStatus(status, (int code, string desc, string result, string user_data)=>{
        // the outcome of setting the status arrives here
        });
        return res;
    }

    public static TIMResult QueryStatus()
    {
        // Query user status
        TIMResult res = TencentIMSDK.GetUserStatus(new List<string> {"userID1"}, (int code, string desc, List<UserStatus> results, string user_data)=>{
        // the statuses asked for arrive here
        });
        return res;
    }

    public static TIMResult Subscribe()
    {
        // Subscribe to the user status
        TIMResult res = TencentIMSDK.SubscribeUserStatus(new List<string> {"userID1"}, (int code, string desc, string result, string user_data)=>{
        // the outcome of the subscription arrives here
        });
        return res;
    }

    public static TIMResult Unsubscribe()
    {
        // Unsubscribe from the user status
        TIMResult res = TencentIMSDK.UnsubscribeUserStatus(new List<string> {"userID1"}, (int code, string desc, string result, string user_data)=>{
        // the outcome of the unsubscription arrives here
        });
        return res;
    }

    public static void ListenForChanges()
    {
        // Set the user status change notification callback
        TencentIMSDK.SetUserStatusChangedCallback((List<UserStatus> json_user_status_array, string user_data)=>{
        // status changes arrive here
        });
    }
}

#if UNITY_5_3_OR_NEWER
/// <summary>Attach to a GameObject: initialises, runs the samples once logged in, drains callbacks each frame.</summary>
public class UserStatusSampleBehaviour : UnityEngine.MonoBehaviour
{
    public string serverUrl = "ws://127.0.0.1:8080";
    public long sdkAppId = 1400000001;
    public string userSig = "";

    void Start()
    {
        UserStatusSample.Initialise(serverUrl, sdkAppId);
        UserStatusSample.ListenForChanges();
        TencentIMSDK.Login("userID", userSig, (int code, string desc, string user_data) =>
        {
            UnityEngine.Debug.Log("login: " + code + " " + desc);
            if (code != 0) return;
            UserStatusSample.SetStatus();
            UserStatusSample.QueryStatus();
            UserStatusSample.Subscribe();
        });
    }

    // Callbacks run here, on the main thread.
    void Update() { TencentIMSDK.Update(); }

    void OnApplicationQuit() { TencentIMSDK.Uninit(); }
}
#endif
