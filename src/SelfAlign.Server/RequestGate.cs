namespace SelfAlign.Server;

/// <summary>Bounds the completions a model has in flight (running plus waiting); beyond it requests are turned away
/// with 429 instead of queueing without limit.</summary>
internal sealed class RequestGate(int capacity)
{
    private int _inFlight;

    public int Capacity { get; } = capacity;
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Takes <paramref name="count"/> places, all or none.</summary>
    public bool TryEnter(int count)
    {
        while (true)
        {
            var now = Volatile.Read(ref _inFlight);
            if (now + count > Capacity) return false;
            if (Interlocked.CompareExchange(ref _inFlight, now + count, now) == now) return true;
        }
    }

    public void Exit(int count) => Interlocked.Add(ref _inFlight, -count);
}
