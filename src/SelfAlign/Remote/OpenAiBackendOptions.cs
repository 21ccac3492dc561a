namespace SelfAlign.Remote;

/// <summary>Where an <see cref="OpenAiBackend"/> sends its requests, and how hard it tries.</summary>
public sealed record OpenAiBackendOptions
{
    /// <summary>The API root, e.g. <c>http://10.0.0.5:8000/v1</c> (vLLM), <c>http://127.0.0.1:8080/v1</c> (llama.cpp, selfalign serve).</summary>
    public required Uri BaseUrl { get; init; }
    /// <summary>The served model's name, sent as <c>model</c>.</summary>
    public required string Model { get; init; }
    /// <summary>Requests in flight at once; the server batches them (vLLM's continuous batching, llama.cpp's slots).</summary>
    public int Concurrency { get; init; } = 16;
    public string? ApiKey { get; init; }
    /// <summary>Retries of a request that got no answer, a 5xx or a 429, with exponential back-off from 0.5 s (Retry-After when given).</summary>
    public int MaxRetries { get; init; } = 5;
    /// <summary>Longest wait for one completion.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    internal void Validate()
    {
        if (BaseUrl.Scheme is not ("http" or "https")) throw new InvalidInputException($"backend base_url must be http or https (got {BaseUrl})");
        if (string.IsNullOrWhiteSpace(Model)) throw new InvalidInputException("backend model is required");
        if (Concurrency is < 1 or > 4096) throw new InvalidInputException($"backend concurrency must be in 1..4096 (got {Concurrency})");
        if (MaxRetries is < 0 or > 20) throw new InvalidInputException($"backend max_retries must be in 0..20 (got {MaxRetries})");
    }
}
