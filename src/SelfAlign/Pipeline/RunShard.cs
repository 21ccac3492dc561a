using System.Globalization;

namespace SelfAlign.Pipeline;

/// <summary>
/// One of <see cref="Count"/> disjoint parts of a per-record stage (answers, verbose generation): the records whose
/// position in the stage's input is <see cref="Index"/> modulo <see cref="Count"/>. Deterministic, so n machines given the
/// same run directory answer every record exactly once between them; <see cref="AlignMerge"/> joins them.
/// </summary>
public sealed record RunShard(int Index, int Count)
{
    /// <summary>Reads "i/n" with i in 0..n-1.</summary>
    public static RunShard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i) ||
            !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new InvalidInputException($"--shard '{text}' is not i/n (e.g. 0/4)");
        if (n < 1) throw new InvalidInputException($"--shard {text}: the number of shards must be at least 1");
        if (i >= n) throw new InvalidInputException($"--shard {text}: the shard index must be in 0..{n - 1}");
        return new RunShard(i, n);
    }

    public bool Takes(int position) => position % Count == Index;

    public override string ToString() => $"{Index}/{Count}";
}
