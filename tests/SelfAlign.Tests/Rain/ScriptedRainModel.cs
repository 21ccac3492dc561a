using SelfAlign.Rain;

namespace SelfAlign.Tests.Rain;

/// <summary>
/// A fake model for the search: tokens are letters a..i plus an end token (9). Its next-token distribution
/// always prefers 'b', then 'c', then the rest; rollouts and simulations are scripted; the judge rejects every
/// answer that starts with a token in <see cref="Rejected"/> (that whole branch) and accepts all others. Records what it was asked.
/// </summary>
internal sealed class ScriptedRainModel : IRainModel
{
    public const int End = 9;
    public HashSet<int> Rejected { get; init; } = [];
    /// <summary>Answer length after which only the end token is likely.</summary>
    public int EndAfter { get; init; } = 6;
    /// <summary>Judge every answer as bad (value -1), so the search can never stop early.</summary>
    public bool RejectAll { get; init; }
    public List<int[]> Judged { get; } = [];
    /// <summary>Every continuation embeds alike, so siblings are credited for each other and look alike to the addition test.</summary>
    public bool Alike { get; init; }

    private static readonly double[] Distribution = [0.02, 0.5, 0.3, 0.05, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01];

    public IReadOnlyList<RainExtension> Extend(IReadOnlyList<RainExtendRequest> requests) => requests.Select(r =>
    {
        var random = new Random((int)(r.Seed % int.MaxValue));
        switch (r.Kind)
        {
            case RainExtendKind.TopTokens:
                return new RainExtension(Head(r.Path).OrderByDescending(t => t.P).Take(r.Count).Select(t => (new[] { t.Token }, t.P)).ToList());
            case RainExtendKind.Simulation:
                return new RainExtension([(new[] { Next(r.Path, random) }, 0.5)]);
            default:
                var sequences = new List<(int[], double)>();
                for (var i = 0; i < r.Count; i++)
                {
                    var tokens = new List<int>();
                    var p = 1.0;
                    while (tokens.Count < r.Length)
                    {
                        var path = (int[])[.. r.Path, .. tokens];
                        var t = i == 0 ? Head(path).MaxBy(x => x.P).Token : Next(path, random);
                        p *= Head(path).First(x => x.Token == t).P;
                        tokens.Add(t);
                        if (t == End) break;
                    }
                    sequences.Add((tokens.ToArray(), p));
                }
                return new RainExtension(sequences);
        }
    }).ToList();

    private (int Token, double P)[] Head(int[] path) =>
        path.Length >= EndAfter
            ? Enumerable.Range(0, 10).Select(t => (t, t == End ? 0.91 : 0.01)).ToArray()
            : Enumerable.Range(0, 10).Select(t => (t, Distribution[t])).ToArray();

    private int Next(int[] path, Random random)
    {
        var u = random.NextDouble();
        foreach (var (t, p) in Head(path)) if ((u -= p) <= 0) return t;
        return End;
    }

    public IReadOnlyList<RainJudgement> Judge(IReadOnlyList<int[]> answers) => answers.Select(a =>
    {
        Judged.Add(a);
        var bad = RejectAll || (a.Length > 0 && Rejected.Contains(a[0]));
        return new RainJudgement([bad ? 0 : 5, bad ? 0 : 5], [bad ? 5 : 0, bad ? 5 : 0]);
    }).ToList();

    /// <summary>
    /// One vector for every continuation with <see cref="Alike"/>; otherwise one axis per continuation (by a hash of
    /// its tokens), so siblings differ and get no similarity credit.
    /// </summary>
    public IReadOnlyList<float[]?> Embed(int[] answer, IReadOnlyList<int> starts) => starts.Select(s =>
    {
        if (s >= answer.Length) return null;
        var embedding = new float[4096];
        var axis = 0;
        if (!Alike) foreach (var t in answer[s..]) axis = (axis * 31 + t + 1) % embedding.Length;
        embedding[axis] = 1;
        return embedding;
    }).ToList();

    public string Text(ReadOnlySpan<int> tokens)
    {
        var chars = new List<char>();
        foreach (var t in tokens) if (t != End) chars.Add((char)('a' + t));
        return new string(chars.ToArray());
    }

    public bool IsEndOfGeneration(int token) => token == End;
}
