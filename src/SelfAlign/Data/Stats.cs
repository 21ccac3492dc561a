namespace SelfAlign.Data;

/// <summary>Summary statistics the reports share, so each figure means the same wherever it is printed.</summary>
public static class Stats
{
    /// <summary>The middle value; for an even count the mean of the two middle values. Null for no values.</summary>
    public static double? Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        if (s.Count == 0) return null;
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>A proportion's 95% Wilson score interval (sound at small counts and at 0 or 1, where the normal one is not).</summary>
    public static (double Low, double High) Wilson(int successes, int n)
    {
        if (n == 0) return (0, 1);
        const double z = 1.959963984540054;
        var p = successes / (double)n;
        var centre = (p + z * z / (2 * n)) / (1 + z * z / n);
        var half = z * Math.Sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / (1 + z * z / n);
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    /// <summary>A mean of values in [0, 1] with its 95% normal interval, clipped to [0, 1].</summary>
    public static (double Mean, double Low, double High) MeanInterval(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (0, 0, 1);
        var mean = values.Average();
        var sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        var half = 1.959963984540054 * sd / Math.Sqrt(values.Count);
        return (mean, Math.Max(0, mean - half), Math.Min(1, mean + half));
    }
}
