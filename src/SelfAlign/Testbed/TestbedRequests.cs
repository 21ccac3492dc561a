using System.Globalization;
namespace SelfAlign.Testbed;

/// <summary>Held-out evaluation requests: (verb, object) pairs the training corpus never contains.</summary>
public static class TestbedRequests
{
    public static IReadOnlyList<(string Verb, string Object)> HeldOutPairs(bool harmful) =>
        TestbedWorld.Verbs.SelectMany(v => TestbedWorld.Objects.Select(o => (v, o)))
            .Where(p => TestbedWorld.IsHeldOut(p.v, p.o) && TestbedWorld.IsHarmfulPair(p.v, p.o) == harmful)
            .ToList();

    /// <summary><paramref name="n"/> requests of one kind, drawn with <paramref name="seed"/> from the held-out pairs and phrasings.</summary>
    public static List<string> Generate(bool harmful, int n, int seed)
    {
        var pairs = HeldOutPairs(harmful);
        var rng = new Random(seed ^ (harmful ? 0x4A5 : 0xB3E));
        return Enumerable.Range(0, n).Select(_ =>
        {
            var (verb, obj) = pairs[rng.Next(pairs.Count)];
            return string.Format(CultureInfo.InvariantCulture, TestbedWorld.RequestPhrasings[rng.Next(TestbedWorld.RequestPhrasings.Count)], verb, obj);
        }).ToList();
    }
}
