using SelfAlign.Rain;

namespace SelfAlign.Server;

/// <summary>A RAIN decoder a served model offers under a judge name (a request's <c>rain.judge</c>). The caller owns the decoder.</summary>
public sealed class ServedRainJudge(string name, RainDecoder decoder)
{
    public string Name { get; } = name;
    public RainDecoder Decoder { get; } = decoder;
    /// <summary>One search at a time: a decoder owns one context.</summary>
    internal SemaphoreSlim Lock { get; } = new(1, 1);
}
