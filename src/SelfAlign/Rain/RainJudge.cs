using SelfAlign.Data;
using SelfAlign.Models;

namespace SelfAlign.Rain;

/// <summary>One option order of the judge: the text after the answer, and which label means good or bad.</summary>
public sealed record RainJudgeOrder
{
    /// <summary>Text after the judged answer, ending where the label is read, e.g. "...(A) harmless (B) harmful. The answer is: (".</summary>
    public string Suffix { get; init; } = "";
    /// <summary>Label of the good (e.g. harmless) option in this order, as it follows the suffix, e.g. "A".</summary>
    public string Good { get; init; } = "";
    public string Bad { get; init; } = "";
}

/// <summary>
/// RAIN's self-evaluation prompt, as data: a fixed <see cref="Prefix"/> (instruction and worked examples,
/// evaluated once), the <see cref="Conversation"/> header ("{prompt}" is the user's request), then the answer so
/// far, then one <see cref="RainJudgeOrder"/> per option order. Load a file with <see cref="Load"/>.
/// </summary>
public sealed record RainJudge
{
    public string Prefix { get; init; } = "";
    public string Conversation { get; init; } = "{prompt}";
    public List<RainJudgeOrder> Orders { get; init; } = [];

    /// <summary>Reads a judge file (YAML keys prefix, conversation, orders: [{suffix, good, bad}]).</summary>
    public static RainJudge Load(string path)
    {
        var judge = YamlFile.Read<RainJudge>(path, "judge file");
        judge.Validate(path);
        return judge;
    }

    /// <summary>Reads a judge from YAML text; <paramref name="source"/> names it in errors.</summary>
    public static RainJudge Parse(string yaml, string source)
    {
        var judge = YamlFile.Parse<RainJudge>(yaml, source);
        judge.Validate(source);
        return judge;
    }

    /// <summary>The judge file shipped for real models (data/rain/harm-judge.yaml), embedded in the library.</summary>
    public static RainJudge Harm
    {
        get
        {
            using var s = typeof(RainJudge).Assembly.GetManifestResourceStream("SelfAlign.Rain.harm-judge.yaml")
                ?? throw new InvalidOperationException("missing embedded resource harm-judge.yaml");
            return Parse(new StreamReader(s).ReadToEnd(), "harm-judge.yaml");
        }
    }

    private void Validate(string source)
    {
        if (!Conversation.Contains("{prompt}", StringComparison.Ordinal))
            throw new InvalidInputException($"{source}: 'conversation' must contain {{prompt}} where the user's request goes");
        if (Orders.Count == 0) throw new InvalidInputException($"{source}: 'orders' is empty; give the options in both orders");
        foreach (var o in Orders)
            if (o.Suffix.Length == 0 || o.Good.Length == 0 || o.Bad.Length == 0 || o.Good == o.Bad)
                throw new InvalidInputException($"{source}: every order needs a suffix and two different labels 'good' and 'bad'");
    }

    /// <summary>
    /// The label token ids in this model's vocabulary: the one token each label adds after its order's suffix
    /// (so "A" after "(" is found as the tokenizer writes it there). Throws when a label adds more or fewer than
    /// one token, because the judge reads exactly one next-token logit per label.
    /// </summary>
    public IReadOnlyList<(int Good, int Bad)> LabelTokens(Vocabulary vocabulary) =>
        Orders.Select(o => (Label(vocabulary, o.Suffix, o.Good), Label(vocabulary, o.Suffix, o.Bad))).ToList();

    private static int Label(Vocabulary vocabulary, string suffix, string label)
    {
        var before = vocabulary.Tokenize(suffix, addSpecial: false);
        var after = vocabulary.Tokenize(suffix + label, addSpecial: false);
        if (after.Length == before.Length + 1 && after.AsSpan(0, before.Length).SequenceEqual(before)) return after[^1];
        var added = after.Length >= before.Length && after.AsSpan(0, before.Length).SequenceEqual(before)
            ? string.Join(" ", after[before.Length..].Select(t => $"'{vocabulary.TokenText(t)}'"))
            : "tokens that merge with the end of the suffix";
        var alternative = new[] { label.Trim(), " " + label.Trim() }.FirstOrDefault(a => a != label && IsSingle(vocabulary, suffix, a));
        throw new InvalidInputException(
            $"judge label '{label}' is not a single token of this model after its suffix (it adds {added}); " +
            (alternative is not null ? $"use '{alternative}' instead" : "choose labels that are single tokens, such as one capital letter, and end the suffix where the label starts"));
    }

    private static bool IsSingle(Vocabulary vocabulary, string suffix, string label) =>
        vocabulary.Tokenize(suffix + label, addSpecial: false).Length == vocabulary.Tokenize(suffix, addSpecial: false).Length + 1;

    /// <summary>The judge text for one request up to where the answer starts.</summary>
    public string Header(string userRequest) => Prefix + Conversation.Replace("{prompt}", userRequest, StringComparison.Ordinal);

    /// <summary>
    /// The tokens of <see cref="Conversation"/> for a request, as they follow <see cref="Prefix"/>'s. The file's own text
    /// may name special tokens (a chat template's) and they are parsed; a request that names one is tokenized in its place
    /// with the name kept as text, so it cannot write the judge's control tokens. Any other request is tokenized with the
    /// conversation as one text, as the words would run together.
    /// </summary>
    public int[] ConversationTokens(Models.Vocabulary vocabulary, string userRequest)
    {
        if (vocabulary.Tokenize(userRequest, addSpecial: false, parseSpecial: true).SequenceEqual(vocabulary.Tokenize(userRequest, addSpecial: false)))
            return vocabulary.TokenizeContinuation(Prefix, Conversation.Replace("{prompt}", userRequest, StringComparison.Ordinal));
        var at = Conversation.IndexOf("{prompt}", StringComparison.Ordinal);
        var (before, after) = (Conversation[..at], Conversation[(at + "{prompt}".Length)..]);
        var context = Prefix + before;
        return [.. vocabulary.TokenizeContinuation(Prefix, before), .. vocabulary.TokenizeContinuation(context, userRequest, parseSpecial: false),
                .. vocabulary.TokenizeContinuation(context + userRequest, after)];
    }
}
