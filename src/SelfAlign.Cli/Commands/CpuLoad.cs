namespace SelfAlign.Cli.Commands;

/// <summary>Keeps cores busy with spinning threads until disposed: the "other work on the machine" of a benchmark.</summary>
internal sealed class CpuLoad : IDisposable
{
    private volatile bool _stop;
    private readonly Thread[] _threads;

    public CpuLoad(int threads)
    {
        _threads = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            var x = 1.0;
            while (!_stop) x = Math.Sqrt(x + 1);
            GC.KeepAlive(x);
        }) { IsBackground = true }).ToArray();
        foreach (var t in _threads) t.Start();
    }

    public void Dispose()
    {
        _stop = true;
        foreach (var t in _threads) t.Join();
    }
}
