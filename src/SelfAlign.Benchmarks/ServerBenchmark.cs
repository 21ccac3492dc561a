using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Server;

namespace SelfAlign.Benchmarks;

/// <summary>Figures of <see cref="ServerBenchmark.Run"/>; names match the JSON keys of <c>selfalign bench serve</c>.</summary>
public sealed record ServerBenchmarkResult(
    int Clients, int MaxTokens, int Errors, double EngineTokensPerS, double ServerTokensPerS, double ServerVsEngine,
    double TtftP50Ms, double TtftP99Ms, double EngineSeconds, double ServerSeconds);

/// <summary>
/// The server under load against the engine it wraps: the same prompts and lengths answered by the engine's own batcher
/// (one in-process call), then by as many concurrent streaming HTTP clients over loopback, each counting its time to
/// first token and its tokens from the usage chunk. End-of-generation is biased away so every answer has the same length.
/// </summary>
public static class ServerBenchmark
{
    public sealed record Options
    {
        public int Clients { get; init; } = 64;
        public int MaxTokens { get; init; } = 128;
        public int Threads { get; init; } = Environment.ProcessorCount;
        public int Rounds { get; init; } = 2;
        /// <summary>One KV cache per sequence instead of one shared by all (see <see cref="ContextOptions.UnifiedKvCache"/>).</summary>
        public bool PerSequenceKv { get; init; }
    }

    public static async Task<ServerBenchmarkResult> RunAsync(LlamaModel model, Options o, Action<string>? progress = null, CancellationToken ct = default)
    {
        var prompts = Enumerable.Range(0, o.Clients).Select(i => $"Request {i}: write a short note about item number {i * 7 % 97} and why it matters.").ToList();
        var longest = prompts.Max(p => model.Vocabulary.Tokenize(p).Length);
        using var engine = new GenerationEngine(model, new EngineOptions
        {
            Context = new ContextOptions
            {
                ContextSize = (o.Clients + 1) * (longest + o.MaxTokens + 8), MaxSequences = o.Clients + 1, Threads = o.Threads, UnifiedKvCache = !o.PerSequenceKv,
            },
            MaxParallel = o.Clients,
        });
        await using var server = new OpenAiServer([new ServedModel("bench", engine, TurnFormat.Plain)], new ServerOptions { Port = 0, MaxQueued = o.Clients });
        await server.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(30) };
        var eos = model.Vocabulary.Eos;

        // alternate the two so that machine load drifting during the run hits both alike; the best round of each counts
        (double Seconds, long Tokens) bestEngine = (double.MaxValue, 0), bestServer = (double.MaxValue, 0);
        var ttfts = new List<double>();
        var errors = 0;
        for (var round = 0; round < o.Rounds; round++)
        {
            progress?.Invoke($"round {round + 1}/{o.Rounds}: engine batch of {o.Clients}");
            var e = await EngineRoundAsync(engine, prompts, o.MaxTokens, eos, ct);
            if (e.Seconds < bestEngine.Seconds) bestEngine = e;
            progress?.Invoke($"round {round + 1}/{o.Rounds}: {o.Clients} streaming clients");
            var s = await ServerRoundAsync(http, prompts, o.MaxTokens, eos, ct);
            errors += s.Errors;
            if (s.Seconds < bestServer.Seconds) { bestServer = (s.Seconds, s.Tokens); ttfts = s.Ttfts; }
        }
        var engineRate = bestEngine.Tokens / bestEngine.Seconds;
        var serverRate = bestServer.Tokens / bestServer.Seconds;
        ttfts.Sort();
        return new ServerBenchmarkResult(o.Clients, o.MaxTokens, errors, engineRate, serverRate, serverRate / engineRate,
            Percentile(ttfts, 0.5) * 1000, Percentile(ttfts, 0.99) * 1000, bestEngine.Seconds, bestServer.Seconds);
    }

    private static async Task<(double Seconds, long Tokens)> EngineRoundAsync(GenerationEngine engine, List<string> prompts, int maxTokens, int eos, CancellationToken ct)
    {
        var requests = prompts.Select(p => new GenerationRequest
        {
            Prompt = p, MaxNewTokens = maxTokens, Sampling = new SamplingOptions { LogitBias = new Dictionary<int, float> { [eos] = -100 } },
        }).ToList();
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        await foreach (var (_, r) in engine.GenerateBatchAsync(requests, ct)) tokens += r.Tokens.Count;
        return (clock.Elapsed.TotalSeconds, tokens);
    }

    private static async Task<(double Seconds, long Tokens, int Errors, List<double> Ttfts)> ServerRoundAsync(
        HttpClient http, List<string> prompts, int maxTokens, int eos, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var clients = prompts.Select(p => Task.Run(() => StreamOneAsync(http, p, maxTokens, eos, ct), ct)).ToArray();
        var results = await Task.WhenAll(clients);
        var seconds = clock.Elapsed.TotalSeconds;
        return (seconds, results.Sum(r => r.Tokens), results.Count(r => r.Error), results.Where(r => !r.Error).Select(r => r.Ttft).ToList());
    }

    private static async Task<(double Ttft, long Tokens, bool Error)> StreamOneAsync(HttpClient http, string prompt, int maxTokens, int eos, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = true,
            ["stream_options"] = new { include_usage = true }, ["logit_bias"] = new Dictionary<string, int> { [eos.ToString(CultureInfo.InvariantCulture)] = -100 },
        });
        var clock = Stopwatch.StartNew();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode) return (0, 0, true);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            double ttft = -1;
            long tokens = -1;
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]") continue;
                using var chunk = JsonDocument.Parse(line.AsMemory(6));
                if (chunk.RootElement.TryGetProperty("error", out _)) return (0, 0, true);
                if (ttft < 0 && chunk.RootElement.GetProperty("choices").EnumerateArray().Any(c => c.GetProperty("text").GetString()!.Length > 0))
                    ttft = clock.Elapsed.TotalSeconds;
                if (chunk.RootElement.TryGetProperty("usage", out var usage)) tokens = usage.GetProperty("completion_tokens").GetInt64();
            }
            return (ttft, tokens, ttft < 0 || tokens != maxTokens);
        }
        catch (HttpRequestException) { return (0, 0, true); }
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
}
