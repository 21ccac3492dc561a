using SelfAlign.Rain;

namespace SelfAlign.Server;

/// <summary>
/// A RAIN decoder a served model offers under a judge name (a request's <c>rain.judge</c>). Requests search through
/// a <see cref="RainScheduler"/> on it, so concurrent RAIN requests advance together in shared decode calls. The
/// caller owns the decoder; disposing the decoder stops the scheduler.
/// </summary>
public sealed class ServedRainJudge(string name, RainDecoder decoder)
{
    public string Name { get; } = name;
    public RainDecoder Decoder { get; } = decoder;
    internal RainScheduler Scheduler { get; } = new(decoder);
}
