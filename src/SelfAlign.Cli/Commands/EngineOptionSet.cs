using System.CommandLine;
using System.Globalization;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary>The model, context and sampling options shared by the commands that run the engine.</summary>
internal sealed class EngineOptionSet
{
    // The defaults the options show and start from.
    private static readonly ContextOptions Context = new();
    private static readonly SamplingOptions Sampling = SamplingOptions.Greedy;
    private static readonly GenerationRequest Request = new() { Prompt = "" };

    public readonly Option<string> Model = new("--model", "-m") { Description = "GGUF model file", Required = true };
    public readonly Option<int> ContextSize = new("--ctx-size") { Description = "KV-cache cells shared by all sequences", DefaultValueFactory = _ => Context.ContextSize };
    public readonly Option<int> Parallel = new("--parallel") { Description = "Sequences decoded together", DefaultValueFactory = _ => 16 };
    public readonly Option<int> Threads = new("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Context.Threads };
    public readonly Option<int> MaxNewTokens = new("--max-new-tokens", "-n") { Description = "Most tokens to generate", DefaultValueFactory = _ => Request.MaxNewTokens };
    public readonly Option<float> Temperature = new("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => Sampling.Temperature };
    public readonly Option<int> TopK = new("--top-k") { Description = "0 = off", DefaultValueFactory = _ => Sampling.TopK };
    public readonly Option<float> TopP = new("--top-p") { Description = "1 = off", DefaultValueFactory = _ => Sampling.TopP };
    public readonly Option<float> MinP = new("--min-p") { Description = "0 = off", DefaultValueFactory = _ => Sampling.MinP };
    public readonly Option<ulong> Seed = new("--seed") { Description = "Sampling seed", DefaultValueFactory = _ => Sampling.Seed };
    public readonly Option<float> RepeatPenalty = new("--repeat-penalty") { Description = "1 = off", DefaultValueFactory = _ => Sampling.RepetitionPenalty };
    public readonly Option<float> FrequencyPenalty = new("--frequency-penalty") { DefaultValueFactory = _ => Sampling.FrequencyPenalty };
    public readonly Option<float> PresencePenalty = new("--presence-penalty") { DefaultValueFactory = _ => Sampling.PresencePenalty };
    public readonly Option<string?> NGramPenalty = new("--ngram-penalty") { Description = "N-gram frequency penalties, e.g. 3=1.0,4=2.0" };
    public readonly Option<string[]> Stop = new("--stop") { Description = "Stop string (repeatable)", AllowMultipleArgumentsPerToken = false };
    public readonly Option<string[]> Ban = new("--ban") { Description = "Ban the first token of this text (repeatable), e.g. --ban Sorry" };
    public readonly Option<string[]> LogitBias = new("--logit-bias") { Description = "TOKEN_ID=BIAS (repeatable)" };
    public readonly Option<bool> BanEos = new("--ban-eos") { Description = "Never end at EOS; run to the length limit or a stop string" };
    public readonly Option<string?> SharedPrefixFile = new("--shared-prefix-file") { Description = "Text every prompt starts with, evaluated once and shared" };
    public readonly Option<bool> NoPrefixSharing = new("--no-prefix-sharing") { Description = "Re-evaluate the shared prefix for every request" };
    public readonly Option<string[]> Adapter = AdapterOption.Create();

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Model, ContextSize, Parallel, Threads, MaxNewTokens, Temperature, TopK, TopP, MinP, Seed,
                     RepeatPenalty, FrequencyPenalty, PresencePenalty, NGramPenalty, Stop, Ban, LogitBias, BanEos, SharedPrefixFile, NoPrefixSharing, Adapter })
            c.Options.Add(o);
    }

    public EngineOptions Engine(ParseResult p, LlamaModel model) => new()
    {
        Context = new ContextOptions
        {
            ContextSize = Positive(p, ContextSize), MaxSequences = Math.Min(256, Positive(p, Parallel) + 1), Threads = Positive(p, Threads),
            LoraAdapters = AdapterOption.Load(p, Adapter, model),
        },
        MaxParallel = p.GetValue(Parallel),
        PrefixSharing = !p.GetValue(NoPrefixSharing),
    };

    public Func<string, GenerationRequest> Requests(ParseResult p, LlamaModel model)
    {
        var vocab = model.Vocabulary;
        var banned = (p.GetValue(Ban) ?? []).Select(text =>
        {
            var ids = vocab.Tokenize(text, addSpecial: false);
            return ids.Length > 0 ? ids[0] : throw new InvalidInputException($"--ban \"{text}\" encodes to no token");
        }).ToList();
        if (p.GetValue(BanEos)) banned.Add(vocab.Eos);
        var sampling = new SamplingOptions
        {
            Temperature = p.GetValue(Temperature), TopK = p.GetValue(TopK), TopP = p.GetValue(TopP), MinP = p.GetValue(MinP),
            Seed = p.GetValue(Seed), RepetitionPenalty = p.GetValue(RepeatPenalty), FrequencyPenalty = p.GetValue(FrequencyPenalty),
            PresencePenalty = p.GetValue(PresencePenalty), NGramPenalties = ParseNGrams(p.GetValue(NGramPenalty)),
            BannedTokens = banned, LogitBias = ParseBias(p.GetValue(LogitBias) ?? [], vocab.Count),
        };
        sampling.Validate();
        var maxNew = Positive(p, MaxNewTokens);
        var prefixFile = p.GetValue(SharedPrefixFile);
        var prefix = prefixFile is null ? null
            : File.Exists(prefixFile) ? File.ReadAllText(prefixFile) : throw new InvalidInputException($"shared prefix file not found: {prefixFile}");
        var stops = p.GetValue(Stop) ?? [];
        var ignoreEog = p.GetValue(BanEos);
        return prompt => new GenerationRequest
        {
            Prompt = prompt, SharedPrefix = prefix, MaxNewTokens = maxNew, Sampling = sampling, StopStrings = stops,
            StopAtEndOfGeneration = !ignoreEog,
        };
    }

    private static int Positive(ParseResult p, Option<int> o)
    {
        var v = p.GetValue(o);
        return v > 0 ? v : throw new InvalidInputException($"{o.Name} must be positive (got {v})");
    }

    internal static IReadOnlyList<float> ParseNGrams(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) return [];
        var penalties = new float[8];
        var max = 0;
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=');
            if (kv.Length != 2 || !int.TryParse(kv[0], out var n) || n is < 1 or > 8 ||
                !float.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                throw new InvalidInputException($"--ngram-penalty: '{part}' is not N=PENALTY with N in 1..8");
            penalties[n - 1] = v;
            max = Math.Max(max, n);
        }
        return penalties[..max];
    }

    private static Dictionary<int, float> ParseBias(string[] specs, int vocabSize)
    {
        var bias = new Dictionary<int, float>();
        foreach (var s in specs)
        {
            var kv = s.Split('=');
            if (kv.Length != 2 || !int.TryParse(kv[0], out var id) || id < 0 || id >= vocabSize ||
                !float.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                throw new InvalidInputException($"--logit-bias: '{s}' is not TOKEN_ID=BIAS with a token id below {vocabSize}");
            bias[id] = v;
        }
        return bias;
    }
}
