using System.Diagnostics;
using System.Text.Json.Serialization;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Benchmarks;

/// <summary>Figures of <see cref="EngineBenchmark.Run"/>; names match the JSON keys of <c>selfalign bench engine</c>.</summary>
public sealed record EngineBenchmarkResult(
    double PrefillTokensPerS, double DecodeTokensPerS, double RawDecodeTokensPerS,
    [property: JsonPropertyName("batched_decode_tokens_per_s_8")] double BatchedDecodeTokensPerS8,
    [property: JsonPropertyName("batched_decode_tokens_per_s_32")] double BatchedDecodeTokensPerS32,
    double EngineVsRaw, [property: JsonPropertyName("batched32_vs_single")] double Batched32VsSingle,
    double PrefixUnsharedSeconds, double PrefixSharedSeconds, double PrefixShareSpeedup,
    [property: JsonPropertyName("sampling_ms_flat_151936")] double SamplingMsFlat, [property: JsonPropertyName("sampling_ms_peaked_151936")] double SamplingMsPeaked,
    double PeakRssMb);

/// <summary>
/// Measures the generation engine against a greedy loop written directly on the C API, batched decoding,
/// and prefix sharing (32 requests of 128 new tokens behind one 1,536-token prefix, shared versus re-evaluated); and the
/// sampler alone on a row of Qwen2's vocabulary size, flat (as random weights give) and peaked (as a trained model mostly does).
/// </summary>
public static unsafe class EngineBenchmark
{
    public sealed record Options
    {
        public int DecodeTokens { get; init; } = 128;
        public int BatchedNewTokens { get; init; } = 128;
        public int PrefixTokens { get; init; } = 1536;
        public int PrefixRequests { get; init; } = 32;
        public int PrefixNewTokens { get; init; } = 128;
        public int Threads { get; init; } = Environment.ProcessorCount;
    }

    public static EngineBenchmarkResult Run(LlamaModel model, Options o, Action<string>? progress = null)
    {
        progress?.Invoke("prefill");
        var prefill = MeasurePrefill(model, o);

        progress?.Invoke("raw C API decode");
        var raw = Enumerable.Range(0, 3).Max(_ => RawGreedyDecode(model, o));
        progress?.Invoke("engine decode");
        double single;
        using (var engine = new GenerationEngine(model, new EngineOptions { Context = Ctx(o, 1024, 8) }))
        {
            single = Enumerable.Range(0, 3).Max(_ => EngineDecode(engine, o));
        }

        progress?.Invoke("batched decode x8");
        var batched8 = Batched(model, o, 8);
        progress?.Invoke("batched decode x32");
        var batched32 = Batched(model, o, 32);

        progress?.Invoke("prefix sharing");
        var shared = PrefixRun(model, o, share: true);
        progress?.Invoke("prefix re-evaluated per request");
        var unshared = PrefixRun(model, o, share: false);

        progress?.Invoke("sampling");
        var flat = SamplingMs(peaked: false);
        var peaked = SamplingMs(peaked: true);

        var rssMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        return new EngineBenchmarkResult(prefill, single, raw, batched8, batched32, single / raw, batched32 / single,
            unshared, shared, unshared / shared, flat, peaked, rssMb);
    }

    /// <summary>Milliseconds per token of temperature 1, top-p 0.98 sampling from a 151,936-token row of logits.</summary>
    private static double SamplingMs(bool peaked)
    {
        var random = new Random(1);
        // peaked: a few dozen plausible tokens stand far above the rest
        var logits = Enumerable.Range(0, 151_936).Select(i => (float)(random.NextDouble() * 0.5 + (peaked && i % 4000 == 0 ? 14 : 0))).ToArray();
        var sampler = new TokenSampler(new SamplingOptions { Temperature = 1f, TopP = 0.98f, Seed = 1 });
        for (var i = 0; i < 20; i++) sampler.Sample(logits, []);
        var clock = Stopwatch.StartNew();
        const int draws = 300;
        for (var i = 0; i < draws; i++) sampler.Sample(logits, []);
        return clock.Elapsed.TotalMilliseconds / draws;
    }

    private static ContextOptions Ctx(Options o, int size, int sequences) =>
        new() { ContextSize = size, MaxSequences = sequences, Threads = o.Threads, BatchSize = 512 };

    private static int[] PromptTokens(LlamaModel model, int count, int salt)
    {
        var text = string.Join(" ", Enumerable.Range(0, count).Select(i => Words[(i * 7 + salt * 13) % Words.Length]));
        var tokens = model.Vocabulary.Tokenize(text);
        return tokens.Length >= count ? tokens[..count] : throw new InvalidOperationException("prompt text too short");
    }

    private static readonly string[] Words =
        ["the", "assistant", "should", "answer", "each", "question", "with", "care", "and", "follow", "every", "rule", "given", "above", "when", "asked"];

    private static double MeasurePrefill(LlamaModel model, Options o) => MeasurePrefill(model, Ctx(o, 1024, 1), PromptTokens(model, 512, 0));

    /// <summary>Tokens per second of <paramref name="tokens"/> decoded as one batch (at most the context's batch size), best of three.</summary>
    internal static double MeasurePrefill(LlamaModel model, ContextOptions options, int[] tokens) => PrefillReadings(model, options, tokens, 3).Max();

    /// <summary>Tokens per second of <paramref name="tokens"/> decoded as one batch, <paramref name="count"/> times in a fresh cache.</summary>
    internal static List<double> PrefillReadings(LlamaModel model, ContextOptions options, int[] tokens, int count)
    {
        using var ctx = new LlamaContext(model, options);
        using var batch = new TokenBatch(options.BatchSize);
        tokens = tokens[..Math.Min(tokens.Length, options.BatchSize)];
        var readings = new List<double>();
        for (var rep = 0; rep < count; rep++)
        {
            ctx.ClearCache();
            batch.Clear();
            for (var i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, 0, i == tokens.Length - 1);
            var sw = Stopwatch.StartNew();
            ctx.Decode(batch);
            readings.Add(tokens.Length / sw.Elapsed.TotalSeconds);
        }
        return readings;
    }

    /// <summary>The reference: prompt, then llama.cpp's greedy sampler and one-token batches, straight on the C API.</summary>
    private static double RawGreedyDecode(LlamaModel model, Options o)
    {
        var p = LlamaNative.llama_context_default_params();
        p.n_ctx = 1024; p.n_batch = 512; p.n_ubatch = 512; p.n_seq_max = 1;
        p.n_threads = o.Threads; p.n_threads_batch = o.Threads; p.flash_attn_type = LlamaNative.LLAMA_FLASH_ATTN_TYPE_DISABLED; p.no_perf = 1;
        using var ctx = SafeLlamaContextHandle.Create(model.Handle, p) ?? throw new InvalidOperationException("no context");
        using var sampler = new SafeLlamaSamplerHandle(LlamaNative.llama_sampler_init_greedy());
        var batch = LlamaNative.llama_batch_init(512, 0, 1);
        try
        {
            var prompt = PromptTokens(model, 16, 1);
            var sw = Stopwatch.StartNew();
            batch.n_tokens = prompt.Length;
            for (var i = 0; i < prompt.Length; i++)
            {
                batch.token[i] = prompt[i]; batch.pos[i] = i; batch.n_seq_id[i] = 1; batch.seq_id[i][0] = 0;
                batch.logits[i] = (sbyte)(i == prompt.Length - 1 ? 1 : 0);
            }
            if (LlamaNative.llama_decode(ctx, batch) != 0) throw new InvalidOperationException("decode failed");
            var pos = prompt.Length;
            var last = prompt.Length - 1;
            for (var n = 0; n < o.DecodeTokens; n++)
            {
                var token = LlamaNative.llama_sampler_sample(sampler, ctx, last);
                batch.n_tokens = 1;
                batch.token[0] = token; batch.pos[0] = pos++; batch.n_seq_id[0] = 1; batch.seq_id[0][0] = 0; batch.logits[0] = 1;
                if (LlamaNative.llama_decode(ctx, batch) != 0) throw new InvalidOperationException("decode failed");
                last = 0;
            }
            return o.DecodeTokens / sw.Elapsed.TotalSeconds;
        }
        finally
        {
            LlamaNative.llama_batch_free(batch);
        }
    }

    private static double EngineDecode(GenerationEngine engine, Options o)
    {
        var prompt = engine.Model.Vocabulary.Detokenize(PromptTokens(engine.Model, 16, 1));
        var request = new GenerationRequest { Prompt = prompt, MaxNewTokens = o.DecodeTokens, StopAtEndOfGeneration = false };
        var sw = Stopwatch.StartNew();
        var result = engine.GenerateAsync(request).GetAwaiter().GetResult();
        return result.Tokens.Count / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Independent requests: each sequence gets a cache of its own, so none attends over the others' cells.</summary>
    private static double Batched(LlamaModel model, Options o, int n)
    {
        using var engine = new GenerationEngine(model, new EngineOptions { Context = Ctx(o, n * (o.BatchedNewTokens + 32), n) with { UnifiedKvCache = false } });
        var requests = Enumerable.Range(0, n).Select(i => new GenerationRequest
        {
            Prompt = model.Vocabulary.Detokenize(PromptTokens(model, 16, i)), MaxNewTokens = o.BatchedNewTokens, StopAtEndOfGeneration = false,
        }).ToList();
        var sw = Stopwatch.StartNew();
        var tokens = Drain(engine, requests);
        return tokens / sw.Elapsed.TotalSeconds;
    }

    private static double PrefixRun(LlamaModel model, Options o, bool share)
    {
        var prefix = model.Vocabulary.Detokenize(PromptTokens(model, o.PrefixTokens, 3));
        var requests = Enumerable.Range(0, o.PrefixRequests).Select(i => new GenerationRequest
        {
            SharedPrefix = prefix, Prompt = $" question {i}:", MaxNewTokens = o.PrefixNewTokens, StopAtEndOfGeneration = false,
        }).ToList();
        // Each run gets its best layout: sharing puts every request on the one prefix in a unified cache;
        // re-evaluation gives each of 8 concurrent requests a cache of its own, so each attends only over its
        // own cells (docs/benchmarks.md says what that layout saves).
        var perRequest = o.PrefixTokens + o.PrefixNewTokens + 64;
        const int unsharedParallel = 8;
        var ctx = share
            ? Ctx(o, perRequest + o.PrefixRequests * (o.PrefixNewTokens + 16), o.PrefixRequests + 1)
            : Ctx(o, perRequest * unsharedParallel, unsharedParallel) with { UnifiedKvCache = false };
        using var engine = new GenerationEngine(model, new EngineOptions { Context = ctx, PrefixSharing = share });
        var sw = Stopwatch.StartNew();
        Drain(engine, requests);
        return sw.Elapsed.TotalSeconds;
    }

    private static int Drain(GenerationEngine engine, IReadOnlyList<GenerationRequest> requests)
    {
        var total = 0;
        var stream = engine.GenerateBatchAsync(requests).GetAsyncEnumerator();
        while (stream.MoveNextAsync().AsTask().GetAwaiter().GetResult()) total += stream.Current.Result.Tokens.Count;
        return total;
    }
}
