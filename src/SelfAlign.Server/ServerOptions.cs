namespace SelfAlign.Server;

/// <summary>Options for an <see cref="OpenAiServer"/>.</summary>
public sealed record ServerOptions
{
    /// <summary>The address to listen on; loopback by default, so nothing is exposed unless the operator says so.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 = any free port (see <see cref="OpenAiServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Completions waiting for a sequence, per model, beyond those running; more are answered 429 with Retry-After.</summary>
    public int MaxQueued { get; init; } = 256;
    /// <summary>Largest request body accepted (413 above it).</summary>
    public long MaxRequestBytes { get; init; } = 8 << 20;
    /// <summary>max_tokens when a request gives none.</summary>
    public int DefaultMaxTokens { get; init; } = 512;
    /// <summary>Most choices (<c>n</c>, times prompts for text completions) one request may ask for.</summary>
    public int MaxChoices { get; init; } = 64;

    internal void Validate()
    {
        if (Port is < 0 or > 65535) throw new InvalidInputException($"port must be in 0..65535 (got {Port})");
        if (MaxQueued < 0) throw new InvalidInputException($"the queue bound must be >= 0 (got {MaxQueued})");
        if (DefaultMaxTokens < 1) throw new InvalidInputException($"the default max_tokens must be >= 1 (got {DefaultMaxTokens})");
        if (MaxChoices < 1) throw new InvalidInputException($"the most choices per request must be >= 1 (got {MaxChoices})");
    }
}
