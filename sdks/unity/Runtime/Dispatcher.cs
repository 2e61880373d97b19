// Where the game's callbacks run. Unity's API may only be touched from the main thread, and the
// SDK's network work runs on thread-pool threads, so by default every callback waits in a queue
// that the game drains from a MonoBehaviour's Update() (TencentIMSDK.Update()). A game that
// wants them at once, and marshals to the main thread itself, opts in to Immediate: they then
// run on one dedicated thread, in the order they were raised.
using System;
using System.Collections.Generic;
using System.Threading;
using com.tencent.imsdk.unity.enums;

namespace Presently.Unity
{
    internal sealed class Dispatcher
    {
        readonly Queue<Action> queue = new Queue<Action>();
        readonly TIMCallbackMode mode;
        readonly Action<string> log;
        Thread thread;
        bool stopped;

        public Dispatcher(TIMCallbackMode mode, Action<string> log)
        {
            this.mode = mode;
            this.log = log;
            if (mode == TIMCallbackMode.Immediate)
            {
                thread = new Thread(Run) { IsBackground = true, Name = "Presently callbacks" };
                thread.Start();
            }
        }

        /// <summary>Queues a callback; callbacks run in the order they were posted.</summary>
        public void Post(Action a)
        {
            if (a == null) return;
            lock (queue)
            {
                if (stopped) return;
                queue.Enqueue(a);
                Monitor.PulseAll(queue);
            }
        }

        /// <summary>Queue mode: runs every callback waiting now on the calling thread; returns how many ran.</summary>
        public int Drain()
        {
            if (mode == TIMCallbackMode.Immediate) return 0;
            int ran = 0;
            while (true)
            {
                Action a;
                lock (queue)
                {
                    if (queue.Count == 0) return ran;
                    a = queue.Dequeue();
                }
                Invoke(a);
                ran++;
            }
        }

        /// <summary>Queue mode: blocks up to timeoutMs until a callback is waiting (for console hosts and tests).</summary>
        public bool WaitForCallbacks(int timeoutMs)
        {
            lock (queue)
            {
                if (queue.Count > 0) return true;
                Monitor.Wait(queue, timeoutMs);
                return queue.Count > 0;
            }
        }

        void Run()
        {
            while (true)
            {
                Action a;
                lock (queue)
                {
                    while (queue.Count == 0 && !stopped) Monitor.Wait(queue);
                    if (queue.Count == 0) return;
                    a = queue.Dequeue();
                }
                Invoke(a);
            }
        }

        void Invoke(Action a)
        {
            try
            {
                a();
            }
            catch (Exception e)
            {
                // A throwing game callback must not break the SDK or the callbacks after it.
                log("a callback threw: " + e);
            }
        }

        /// <summary>Runs what is queued (Immediate mode finishes its queue), then takes no more.</summary>
        public void Stop()
        {
            lock (queue)
            {
                stopped = true;
                Monitor.PulseAll(queue);
            }
        }
    }
}
