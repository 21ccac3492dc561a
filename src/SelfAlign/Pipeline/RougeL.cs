namespace SelfAlign.Pipeline;

/// <summary>ROUGE-L F-measure between token sequences (lower-cased alphanumeric words, no stemming, as rouge_score does).</summary>
public static class RougeL
{
    public static string[] Tokenize(string text) =>
        TextFilters.NormalisedKey(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>F = 2 * LCS / (|a| + |b|) (precision and recall weighted equally).</summary>
    public static double F(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        if (a.Length == 0 || b.Length == 0) return 0;
        return 2.0 * Lcs(a, b) / (a.Length + b.Length);
    }

    /// <summary>Length of the longest common subsequence, in O(|a| * |b|) time and O(|b|) memory.</summary>
    public static int Lcs(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        Span<int> row = b.Length <= 256 ? stackalloc int[b.Length + 1] : new int[b.Length + 1];
        row.Clear();
        for (var i = 0; i < a.Length; i++)
        {
            var diagonal = 0;
            for (var j = 0; j < b.Length; j++)
            {
                var up = row[j + 1];
                row[j + 1] = a[i] == b[j] ? diagonal + 1 : Math.Max(up, row[j]);
                diagonal = up;
            }
        }
        return row[b.Length];
    }
}
