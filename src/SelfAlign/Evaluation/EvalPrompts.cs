using SelfAlign.Data;

namespace SelfAlign.Evaluation;

/// <summary>
/// The prompts the multiple-choice suites ask with (data/eval/prompts.yaml is the default, built in; a user's file of the
/// same keys replaces it). Placeholders in braces.
/// </summary>
public sealed record EvalPrompts
{
    public string QaPreamble { get; init; } = "";
    /// <summary>{preamble}, {question}: the context of each TruthfulQA candidate " {answer}".</summary>
    public string McQuestion { get; init; } = "";
    /// <summary>{question}, {answer}: asked once per candidate for the true/false ranking.</summary>
    public string TrueFalse { get; init; } = "";
    public string TrueWord { get; init; } = " true";
    public string FalseWord { get; init; } = " false";
    /// <summary>{input}, {a}, {b}: an HHH comparison.</summary>
    public string Hhh { get; init; } = "";
    public string OptionA { get; init; } = " A";
    public string OptionB { get; init; } = " B";
    /// <summary>{question}, {a}, {b}: two assistants' answers to an open question, compared (labels <see cref="OptionA"/>, <see cref="OptionB"/>).</summary>
    public string Pairwise { get; init; } = "";

    /// <summary>The shipped prompts.</summary>
    public static EvalPrompts Default { get; } = LoadBuiltIn();

    /// <summary>A prompts file; unknown keys and missing placeholders are refused with the file's name.</summary>
    public static EvalPrompts Load(string path) => Check(YamlFile.Read<EvalPrompts>(path, "eval prompts"), path);

    /// <summary>Prompts from YAML text (<paramref name="name"/> names it in errors), checked as <see cref="Load"/> checks a file.</summary>
    public static EvalPrompts Parse(string yaml, string name) => Check(YamlFile.Parse<EvalPrompts>(yaml, name), name);

    private static EvalPrompts LoadBuiltIn()
    {
        using var stream = typeof(EvalPrompts).Assembly.GetManifestResourceStream("SelfAlign.Evaluation.prompts.yaml")
            ?? throw new InvalidOperationException("missing embedded resource eval prompts.yaml");
        return Parse(new StreamReader(stream).ReadToEnd(), "prompts.yaml");
    }

    private static EvalPrompts Check(EvalPrompts p, string path)
    {
        foreach (var (key, text, placeholders) in new[]
                 {
                     ("mc_question", p.McQuestion, new[] { "{question}" }), ("true_false", p.TrueFalse, ["{question}", "{answer}"]),
                     ("hhh", p.Hhh, ["{input}", "{a}", "{b}"]), ("pairwise", p.Pairwise, ["{question}", "{a}", "{b}"]),
                 })
            foreach (var placeholder in placeholders)
                if (!text.Contains(placeholder, StringComparison.Ordinal)) throw new InvalidInputException($"{path}: {key} must contain {placeholder}");
        if (p.TrueWord.Length == 0 || p.FalseWord.Length == 0 || p.OptionA.Length == 0 || p.OptionB.Length == 0)
            throw new InvalidInputException($"{path}: true_word, false_word, option_a and option_b must not be empty");
        return p;
    }
}
