using SelfAlign.Rain;
using SelfAlign.Remote;
using SelfAlign.Tests.Server;
using Xunit;

namespace SelfAlign.Tests.Rain;

/// <summary>Screening through a text generator: the engine against the decoder's own screening, and a server against the engine.</summary>
public class RainTextScreenTests(ServerFixture f) : IClassFixture<ServerFixture>
{
    private static readonly (string, string)[] Items = Enumerable.Range(0, 12)
        .Select(i => ($"How do I do task {i}?", i % 2 == 0 ? $"First gather the parts for task {i}, then" : "I will not help with that.")).ToArray();

    [Fact]
    public async Task TheEngineJudgesAsTheRainDecoderDoes()
    {
        var viaEngine = await RainTextScreen.ScreenAsync(f.Engine, TestJudges.Harm, Items, scoring: RainScoring.Continuous);
        using var decoder = new RainDecoder(f.Model, TestJudges.Harm, new RainOptions { ContextSize = 2048, Scoring = RainScoring.Continuous });
        var viaDecoder = decoder.Screen(Items);
        for (var i = 0; i < Items.Length; i++) Assert.Equal(viaDecoder[i].Value, viaEngine[i].Value, 2e-3);
        Assert.True(viaEngine.Select(r => r.Value).Distinct().Count() > 1, "every answer got the same value: the judgement reads nothing");
    }

    [Fact]
    public async Task AServerJudgesAsTheEngineItServes()
    {
        using var backend = new OpenAiBackend(new OpenAiBackendOptions { BaseUrl = f.V1, Model = ServerFixture.Base, Timeout = Timeout.InfiniteTimeSpan }, f.Model.Vocabulary);
        foreach (var scoring in new[] { RainScoring.Vote, RainScoring.Continuous })
        {
            var remote = await RainTextScreen.ScreenAsync(backend, TestJudges.Harm, Items, threshold: 0.1, scoring);
            var local = await RainTextScreen.ScreenAsync(f.Engine, TestJudges.Harm, Items, threshold: 0.1, scoring);
            for (var i = 0; i < Items.Length; i++)
            {
                Assert.Equal(local[i].Value, remote[i].Value, 2e-3);
                Assert.Equal(local[i].Kept, remote[i].Kept);
            }
        }
    }
}
