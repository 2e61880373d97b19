// One WebSocket connection to the server: request/reply matching with per-request timeouts,
// heartbeats and the silence watchdog. It knows nothing of login state; TIMClient decides what a
// closed link means. Everything a link owns (pending requests, timers) dies with it.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Presently.Unity
{
    /// <summary>A reply: Code 0 with Data, or a refusal / local failure with Code and Message.</summary>
    internal sealed class Reply
    {
        public readonly int Code;
        public readonly string Message;
        public readonly object Data;
        public Reply(int code, string message, object data) { Code = code; Message = message ?? ""; Data = data; }
        public bool Ok { get { return Code == 0; } }
        public IDictionary<string, object> Obj { get { return Data as IDictionary<string, object>; } }
    }

    internal sealed class Link
    {
        sealed class Pending
        {
            public string Op;
            public Action<Reply> Done;
            public Timer Timer;
        }

        readonly ClientWebSocket ws;
        readonly Action<IDictionary<string, object>> onFrame;
        readonly Action<int, string> onClose;
        readonly object gate = new object();
        readonly Dictionary<long, Pending> pending = new Dictionary<long, Pending>();
        readonly Stopwatch clock = Stopwatch.StartNew();
        long nextId = 1;
        bool closed;
        Task sendChain = Task.FromResult(0);
        Timer heartbeat;
        Timer watchdog;
        long lastFrameMs;
        int silenceLimitMs;

        Link(ClientWebSocket ws, Action<IDictionary<string, object>> onFrame, Action<int, string> onClose)
        {
            this.ws = ws;
            this.onFrame = onFrame;
            this.onClose = onClose;
        }

        /// <summary>Opens a socket; fails with 2800 when the server cannot be reached, 2801 on timeout.</summary>
        public static async Task<Link> Open(string url, int timeoutMs, Action<IDictionary<string, object>> onFrame, Action<int, string> onClose)
        {
            var ws = new ClientWebSocket();
            using (var cts = new CancellationTokenSource(timeoutMs))
            {
                try
                {
                    await ws.ConnectAsync(new Uri(url), cts.Token).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    ws.Dispose();
                    if (cts.IsCancellationRequested) throw new PresentlyException(2801, "connecting to " + url + " timed out after " + timeoutMs + " ms");
                    throw new PresentlyException(2800, "cannot connect to " + url + ": " + e.Message);
                }
            }
            var link = new Link(ws, onFrame, onClose);
            link.lastFrameMs = link.clock.ElapsedMilliseconds;
#pragma warning disable 4014
            Task.Run(() => link.ReceiveLoop()); // runs until the socket closes
#pragma warning restore 4014
            return link;
        }

        public bool IsClosed { get { lock (gate) return closed; } }

        /// <summary>
        /// Sends a request; `done` runs exactly once, on the receive thread as the reply is read
        /// (before any later frame), or with 2801 after the timeout, or 2800 when the link dies.
        /// </summary>
        public void Request(string op, Dictionary<string, object> fields, int timeoutMs, Action<Reply> done)
        {
            long id;
            Pending p;
            lock (gate)
            {
                if (closed)
                {
                    ThreadPool.QueueUserWorkItem(_ => done(new Reply(2800, op + " could not be sent: the connection is closed", null)));
                    return;
                }
                id = nextId++;
                p = new Pending { Op = op, Done = done };
                pending[id] = p;
                p.Timer = new Timer(_ => Expire(id), null, timeoutMs, Timeout.Infinite);
            }
            var frame = new Dictionary<string, object>(fields ?? new Dictionary<string, object>());
            frame["id"] = id;
            frame["op"] = op;
            Send(Json.Serialize(frame));
        }

        void Expire(long id)
        {
            Pending p;
            lock (gate)
            {
                if (!pending.TryGetValue(id, out p)) return;
                pending.Remove(id);
                p.Timer.Dispose();
            }
            p.Done(new Reply(2801, p.Op + " got no reply in time", null));
        }

        /// <summary>Heartbeats every intervalMs; the link is declared dead after silenceLimitMs without any frame.</summary>
        public void StartHeartbeat(int intervalMs, int silenceLimitMs)
        {
            lock (gate)
            {
                if (closed) return;
                StopTimers();
                this.silenceLimitMs = silenceLimitMs;
                lastFrameMs = clock.ElapsedMilliseconds;
                heartbeat = new Timer(_ => Send("{\"op\":\"heartbeat\"}"), null, intervalMs, intervalMs);
                int tick = Math.Max(20, Math.Min(1000, silenceLimitMs / 8));
                watchdog = new Timer(_ => CheckSilence(), null, tick, tick);
            }
        }

        void StopTimers()
        {
            if (heartbeat != null) heartbeat.Dispose();
            if (watchdog != null) watchdog.Dispose();
            heartbeat = null;
            watchdog = null;
        }

        void CheckSilence()
        {
            long silent;
            lock (gate)
            {
                if (closed || watchdog == null) return;
                silent = clock.ElapsedMilliseconds - lastFrameMs;
                if (silent < silenceLimitMs) return;
            }
            string reason = "nothing received for " + silent + " ms";
            Close(reason, 2800, true);
            onClose(4004, reason);
        }

        void Send(string text)
        {
            lock (gate)
            {
                if (closed) return;
                var bytes = Encoding.UTF8.GetBytes(text);
                sendChain = SendAfter(sendChain, bytes);
            }
        }

        // ClientWebSocket allows one send at a time: each send waits for the one before it.
        async Task SendAfter(Task previous, byte[] bytes)
        {
            try { await previous.ConfigureAwait(false); } catch { }
            try
            {
                await ws.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                // The receive loop notices a dead socket and reports it once.
            }
        }

        /// <summary>
        /// Closes from this side: pending requests fail with `code`, the owner is not told (it
        /// asked). `hard` aborts the TCP connection at once, for a peer that no longer answers.
        /// </summary>
        public void Close(string reason, int code, bool hard)
        {
            if (!Shutdown(code, "connection closed: " + reason)) return;
            if (hard)
            {
                try { ws.Abort(); } catch { }
                return;
            }
            Task.Run(async () =>
            {
                try
                {
                    using (var cts = new CancellationTokenSource(2000))
                        await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, Truncate(reason), cts.Token).ConfigureAwait(false);
                }
                catch { }
                try { ws.Abort(); } catch { }
            });
        }

        static string Truncate(string reason)
        {
            if (reason == null) return "";
            return Encoding.UTF8.GetByteCount(reason) <= 120 ? reason : reason.Substring(0, 40);
        }

        /// <summary>Marks the link closed and fails every pending request; false when it already was.</summary>
        bool Shutdown(int code, string message)
        {
            List<Pending> failed;
            lock (gate)
            {
                if (closed) return false;
                closed = true;
                StopTimers();
                failed = new List<Pending>(pending.Values);
                pending.Clear();
            }
            foreach (var p in failed)
            {
                p.Timer.Dispose();
                p.Done(new Reply(code, message, null));
            }
            return true;
        }

        async Task ReceiveLoop()
        {
            var buffer = new byte[16 * 1024];
            var message = new List<byte>();
            int closeCode = 1006;
            string closeReason = "connection lost";
            try
            {
                while (true)
                {
                    var result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        closeCode = result.CloseStatus.HasValue ? (int)result.CloseStatus.Value : 1005;
                        closeReason = result.CloseStatusDescription ?? "";
                        break;
                    }
                    for (int k = 0; k < result.Count; k++) message.Add(buffer[k]);
                    if (!result.EndOfMessage) continue;
                    var bytes = message.ToArray();
                    message.Clear();
                    if (result.MessageType != WebSocketMessageType.Text) continue; // the protocol is JSON text only
                    OnMessage(Encoding.UTF8.GetString(bytes));
                }
            }
            catch (Exception e)
            {
                closeReason = e.Message;
            }
            if (Shutdown(2800, "connection closed (" + closeCode + (closeReason != "" ? ": " + closeReason : "") + ")"))
            {
                try { ws.Abort(); } catch { }
                onClose(closeCode, closeReason);
            }
        }

        void OnMessage(string text)
        {
            Pending p = null;
            IDictionary<string, object> frame;
            lock (gate)
            {
                if (closed) return;
                lastFrameMs = clock.ElapsedMilliseconds;
            }
            try
            {
                frame = Json.Parse(text) as IDictionary<string, object>;
            }
            catch (FormatException)
            {
                return;
            }
            if (frame == null || Json.Str(frame, "op") == null) return;
            long? id = Json.Num(frame, "id");
            if (id.HasValue)
            {
                lock (gate)
                {
                    if (pending.TryGetValue(id.Value, out p)) pending.Remove(id.Value);
                }
                if (p != null)
                {
                    p.Timer.Dispose();
                    long? code = Json.Num(frame, "code");
                    object data;
                    frame.TryGetValue("data", out data);
                    if (!code.HasValue) p.Done(new Reply(70500, "malformed reply to " + p.Op + ": no code", null));
                    else p.Done(new Reply((int)code.Value, Json.Str(frame, "message"), data));
                    return;
                }
                if (Json.Str(frame, "op") != "error") return; // a late reply to a request that timed out
            }
            onFrame(frame);
        }
    }

    /// <summary>An SDK failure with the protocol's code.</summary>
    internal sealed class PresentlyException : Exception
    {
        public readonly int Code;
        public PresentlyException(int code, string message) : base(message) { Code = code; }
    }
}
