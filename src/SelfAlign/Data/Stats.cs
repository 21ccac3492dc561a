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
}
