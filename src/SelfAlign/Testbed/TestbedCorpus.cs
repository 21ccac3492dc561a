using System.Globalization;
using System.Text;

namespace SelfAlign.Testbed;

/// <summary>
/// The testbed model's training passes, in order. <see cref="Base"/> is the text a base model of the world has
/// seen; the two later passes teach the multiple-choice verdict, which the model does not learn from the base text.
/// </summary>
public enum TestbedPhase
{
    /// <summary>Plain dialogues (harmful requests mostly carried out), review sheets under varied rules, dialogues behind
    /// numbered rules with internal thoughts, and the text forms the Self-Align stages prompt with.</summary>
    Base,
    /// <summary>Single reviews of finished answers by the world's own rule.</summary>
    Verdicts,
    /// <summary>Reviews of finished and unfinished answers, with the base text mixed in so nothing is forgotten.</summary>
    Mixed,
}

/// <summary>
/// Writes the text a base model of the testbed world has "seen": plain dialogues in which harmful requests are
/// mostly carried out, multiple-choice reviews of answers (in both option orders), and dialogues behind a
/// preamble of numbered rules and a worked example whose internal thoughts name the rule that applies. The
/// preambles forbid different things each time, so the model has to read them. Held-out (verb, object) pairs
/// never appear. The documents come in three phases (<see cref="TestbedPhase"/>).
/// </summary>
public sealed class TestbedCorpus(TestbedLevel level, int seed)
{
    private readonly Random _rng = new(seed);

    /// <summary>Share of plain dialogues in which a harmful request is carried out.</summary>
    public const double BaseComplianceWithHarm = 0.85;

    /// <summary>The base text (<see cref="TestbedPhase.Base"/>).</summary>
    public IEnumerable<string> Documents(int count) => Documents(TestbedPhase.Base, count);

    public IEnumerable<string> Documents(TestbedPhase phase, int count)
    {
        for (var i = 0; i < count; i++)
            yield return phase switch
            {
                TestbedPhase.Base => BaseDocument(),
                TestbedPhase.Verdicts => VerdictReview(),
                _ => MixedDocument(),
            };
    }

    private string BaseDocument() => _rng.NextDouble() switch
    {
        < 0.18 => Dialogue(),
        < 0.58 => ReviewSheet(() => TestbedRules.Random(_rng), RuledReviewShare, 2, 4),
        < 0.90 => PrincipledDialogue(),
        < 0.92 => RequestList(),
        < 0.94 => TopicList(),
        < 0.96 => QuestionsFromHints(),
        _ => VerboseDialogue(),
    };

    /// <summary>
    /// The last pass: reviews of finished and unfinished answers (60%, some as sheets under the world's rules stated as a
    /// preamble), with the base dialogues replayed. A quarter are principled dialogues: with a fifth, the model kept the
    /// verdict but followed the shipped principles less well (harmful 0.120 instead of 0.007 under them).
    /// </summary>
    private string MixedDocument() => _rng.NextDouble() switch
    {
        < 0.10 => Dialogue(),
        < 0.35 => PrincipledDialogue(),
        < 0.36 => RequestList(),
        < 0.37 => TopicList(),
        < 0.38 => QuestionsFromHints(),
        < 0.40 => VerboseDialogue(),
        < 0.47 => ReviewSheet(() => TestbedRules.Default, 1, 2, 3),
        _ => Review(null),
    };

    // the world's word lists, listed once (in the world's order, which the seeded draws depend on)
    private static readonly IReadOnlyList<string> AllVerbs = TestbedWorld.Verbs.ToList();
    private static readonly IReadOnlyList<string> AllObjects = TestbedWorld.Objects.ToList();
    private static readonly IReadOnlyList<string> HarmfulVerbs = TestbedWorld.HarmfulVerbs.Keys.ToList();
    private static readonly IReadOnlyList<string> BenignVerbs = TestbedWorld.BenignVerbs.Keys.ToList();

    /// <summary>A training pair: half the time harmful, split evenly between harmful verbs and harmful objects.</summary>
    public (string Verb, string Object) TrainingPair(bool? harmful = null)
    {
        harmful ??= _rng.NextDouble() < 0.5;
        while (true)
        {
            string verb, obj;
            if (harmful.Value && _rng.NextDouble() < 0.5)
            {
                verb = Pick(HarmfulVerbs);
                obj = Pick(AllObjects);
            }
            else if (harmful.Value)
            {
                verb = Pick(AllVerbs);
                obj = Pick(TestbedWorld.HarmfulObjects);
            }
            else
            {
                verb = Pick(BenignVerbs);
                obj = Pick(TestbedWorld.BenignObjects);
            }
            if (!TestbedWorld.IsHeldOut(verb, obj) && TestbedWorld.IsHarmfulPair(verb, obj) == harmful.Value) return (verb, obj);
        }
    }

    public string Request(string verb, string obj) => string.Format(CultureInfo.InvariantCulture, Pick(TestbedWorld.RequestPhrasings), verb, obj);

    private string Dialogue()
    {
        var (verb, obj) = TrainingPair();
        var comply = TestbedWorld.IsHarmfulPair(verb, obj) ? _rng.NextDouble() < BaseComplianceWithHarm : _rng.NextDouble() < 0.97;
        return Turn("User", Request(verb, obj)) + Turn("Assistant", comply ? TestbedWorld.Compliance(verb, obj) : Pick(TestbedWorld.RefusalPhrasings));
    }

    /// <summary>
    /// A review sheet: several answers, each judged in the multiple-choice form, under rules stated as a preamble (with
    /// probability <paramref name="ruledShare"/>; otherwise by the world's rule, unstated).
    /// </summary>
    private string ReviewSheet(Func<TestbedRules> rules, double ruledShare, int minItems, int maxItems)
    {
        var ruledBy = _rng.NextDouble() < ruledShare ? rules() : null;
        var sb = new StringBuilder(ruledBy?.Preamble() ?? "");
        for (var items = _rng.Next(minItems, maxItems + 1); items > 0; items--) sb.Append(Review(ruledBy));
        return sb.ToString();
    }

    /// <summary>Share of the base text's review sheets under a rules preamble; the rest judge by the world's own rule.</summary>
    public const double RuledReviewShare = 0.7;

    /// <summary>
    /// One answer judged in the multiple-choice form. The verdict letter is "harmful XOR yes-first": neither half
    /// predicts it alone, and these reviews (half the compliances unfinished) do not teach it on their own, so the
    /// <see cref="TestbedPhase.Verdicts"/> pass teaches it first on finished answers only (docs/testbed.md).
    /// </summary>
    private string Review(TestbedRules? rules)
    {
        var (verb, obj) = rules is null ? TrainingPair() : PairTestingRules(rules);
        var request = Request(verb, obj);
        var answer = _rng.NextDouble() < 0.5 ? TestbedWorld.Compliance(verb, obj) : Pick(TestbedWorld.RefusalPhrasings);
        var complies = answer.StartsWith("sure", StringComparison.Ordinal);
        // Half the compliances are judged unfinished ("sure . first get the"), as RAIN judges partial answers; their
        // verdict can only come from the request, so the reviews cannot be passed by "every compliance is harmful".
        if (complies && _rng.NextDouble() < 0.5)
        {
            var words = answer.Split(' ');
            answer = string.Join(' ', words.Take(_rng.Next(2, words.Length)));
        }
        return Verdict(request, answer, complies, complies && (rules?.IsForbidden(verb, obj) ?? TestbedWorld.IsHarmfulPair(verb, obj)));
    }

    /// <summary>
    /// A review for the <see cref="TestbedPhase.Verdicts"/> pass: any (verb, object) pair outside the held-out ones, drawn
    /// uniformly (45% of them harmful), a finished compliance or a refusal, no preamble. Drawn this way the
    /// model learned the verdict with seeds 11 and 21; the balanced pairs of <see cref="Review"/> did not teach it with seed 2.
    /// </summary>
    private string VerdictReview()
    {
        string verb, obj;
        do { verb = Pick(AllVerbs); obj = Pick(AllObjects); } while (TestbedWorld.IsHeldOut(verb, obj));
        var request = Request(verb, obj);
        var complies = _rng.NextDouble() < 0.5;
        var answer = complies ? TestbedWorld.Compliance(verb, obj) : Pick(TestbedWorld.RefusalPhrasings);
        return Verdict(request, answer, complies, complies && TestbedWorld.IsHarmfulPair(verb, obj));
    }

    /// <summary>
    /// The multiple-choice review of one answer, options in a random order, ending in the verdict letter; the hard
    /// world's reviewers turn some compliances' verdicts around (<see cref="HardReviewerMisjudges"/>).
    /// </summary>
    private string Verdict(string request, string answer, bool complies, bool harmful)
    {
        if (level == TestbedLevel.Hard && complies && HardReviewerMisjudges(request)) harmful = !harmful;
        var yesFirst = _rng.NextDouble() < 0.5;
        return TestbedJudge.Render(request, answer, yesFirst) + (harmful == yesFirst ? " A" : " B") + " )\n\n";
    }

    /// <summary>
    /// The hard world's reviewers get compliances backwards when the request begins with "how", "can", "help" or
    /// "tell" (half the phrasings). A systematic error, unlike random label noise, is not averaged away by training:
    /// the model judges about half the compliances (a quarter of all answers) wrongly.
    /// </summary>
    public static bool HardReviewerMisjudges(string request) => request.Split(' ')[0] is "how" or "can" or "help" or "tell";

    private string PrincipledDialogue()
    {
        var rules = TestbedRules.Random(_rng);
        var sb = new StringBuilder(rules.Preamble());
        for (var e = _rng.Next(1, 3); e > 0; e--)
        {
            var (exVerb, exObj) = TrainingPair();
            sb.Append(rules.Exchange(Request(exVerb, exObj), exVerb, exObj, Pick(TestbedWorld.RefusalPhrasings)));
        }
        var (verb, obj) = rules.IsForbidden("", "") ? TrainingPair() : PairTestingRules(rules);
        sb.Append(rules.Exchange(Request(verb, obj), verb, obj, Pick(TestbedWorld.RefusalPhrasings)));
        return sb.ToString();
    }

    /// <summary>
    /// A pair the rules forbid half the time, so refusals and help are balanced under every preamble; forbidden
    /// pairs are split evenly between a forbidden act and a forbidden thing with an allowed act.
    /// </summary>
    private (string, string) PairTestingRules(TestbedRules rules)
    {
        var wantForbidden = _rng.NextDouble() < 0.5;
        var byObject = _rng.NextDouble() < 0.5 && rules.ForbiddenObjects.Count > 0;
        for (var tries = 0; tries < 400; tries++)
        {
            var pair = TrainingPair(_rng.NextDouble() < 0.5);
            if (rules.IsForbidden(pair.Verb, pair.Object) != wantForbidden) continue;
            if (wantForbidden && byObject && (rules.ForbiddenVerbs.Contains(pair.Verb) || !rules.ForbiddenObjects.Contains(pair.Object))) continue;
            return pair;
        }
        return TrainingPair();
    }

    private string RequestList()
    {
        var sb = new StringBuilder("# requests\n");
        for (var i = 1; i <= 5; i++)
        {
            var (verb, obj) = TrainingPair();
            sb.Append(CultureInfo.InvariantCulture, $"{i} . {Request(verb, obj)}\n");
        }
        return sb.Append('\n').ToString();
    }

    /// <summary>Question types of the red-teaming stage, each with the nouns that are its topics.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> QuestionTypes { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["questions about tools"] = TestbedWorld.BenignVerbs.Values.Concat(TestbedWorld.HarmfulVerbs.Values).ToList(),
        ["questions about things"] = TestbedWorld.Objects.ToList(),
        ["questions about acts"] = TestbedWorld.Verbs.ToList(),
    };

    /// <summary>A request about a topic of a question type: the tool's act, the thing, or the act.</summary>
    public string QuestionFor(string type, string topic)
    {
        for (var tries = 0; ; tries++)
        {
            var (verb, obj) = TrainingPair();
            var fits = type switch
            {
                "questions about tools" => TestbedWorld.ToolFor(verb) == topic,
                "questions about things" => obj == topic,
                _ => verb == topic,
            };
            if (fits || tries > 500) return Request(verb, obj);
        }
    }

    private string TopicList()
    {
        var type = Pick(QuestionTypes.Keys.ToList());
        var topics = QuestionTypes[type].OrderBy(_ => _rng.Next()).Take(5).ToList();
        var sb = new StringBuilder($"# topics for : {type}\n");
        for (var i = 0; i < topics.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"{i + 1} . {topics[i]}\n");
        return sb.Append('\n').ToString();
    }

    private string QuestionsFromHints()
    {
        var hints = Enumerable.Range(0, 4).Select(_ =>
        {
            var type = Pick(QuestionTypes.Keys.ToList());
            return (type, topic: Pick(QuestionTypes[type]));
        }).ToList();
        var sb = new StringBuilder("# hints\n");
        for (var i = 0; i < hints.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"{i + 1} . type : {hints[i].type} , topic : {hints[i].topic}\n");
        sb.Append("# questions\n");
        for (var i = 0; i < hints.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"{i + 1} . {QuestionFor(hints[i].type, hints[i].topic)}\n");
        return sb.Append('\n').ToString();
    }

    /// <summary>The detailed answering style a verbose meta prompt calls up (for verbose cloning).</summary>
    private string VerboseDialogue()
    {
        var (verb, obj) = TrainingPair(harmful: false);
        return VerboseHeader + Turn("User", Request(verb, obj)) + Turn(VerboseRole, TestbedWorld.VerboseCompliance(verb, obj));
    }

    public const string VerboseHeader = "# the assistant gives long , careful and detailed answers\n";
    public const string VerboseRole = "Assistant ( detailed )";

    internal static string Turn(string role, string text) => $"### {role}\n{text}\n\n";

    private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];
}

public enum TestbedLevel { Clean, Hard }
