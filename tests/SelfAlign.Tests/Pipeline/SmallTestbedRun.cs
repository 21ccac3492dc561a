using SelfAlign.Pipeline;
using SelfAlign.Tests.Testbed;

namespace SelfAlign.Tests.Pipeline;

/// <summary>A small Self-Align run on the testbed model, for tests of how runs are carried out (backends, shards).</summary>
internal static class SmallTestbedRun
{
    private static readonly string Examples = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "examples", "testbed");

    /// <summary>A run config in a fresh directory named <paramref name="name"/>: the testbed example's data, the clean testbed
    /// model, small counts, stage 1 sampled and stage 2 greedy.</summary>
    public static string WriteConfig(string name)
    {
        var dir = Path.Combine(TestModels.Directory, name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "run.yaml");
        File.WriteAllText(config, $"""
            base_model: {TestbedModels.Clean}
            seed: 5
            context_size: 8192
            data:
              principles: {Examples}/principles.yaml
              exemplars: {Examples}/exemplars.yaml
              seed_tasks: {Examples}/seed-tasks.jsonl
              red_team: {Examples}/red-team.jsonl
              prompts: {Examples}/prompts.yaml
            self_instruct:
              requests: 160
              demonstrations: 3
              min_words: 3
              rouge_threshold: 0.8
              sampling: {"{"} max_new_tokens: 60 {"}"}
            red_team:
              topic_rounds: 1
              max_topic_words: 1
              topics_capitalised: false
              topic_sampling: {"{"} max_new_tokens: 40 {"}"}
              question_requests: 80
              hints_per_request: 2
              question_sampling: {"{"} max_new_tokens: 60 {"}"}
            answers:
              sampling: {"{"} max_new_tokens: 72, temperature: 0 {"}"}
              min_chars: 20
              leak_check: requests
            """);
        return config;
    }

    public static Task RunAsync(string config, string dir, AlignRunOptions options, params string[] overrides) =>
        new AlignRun(AlignConfig.Load(config, overrides), dir).RunAsync(options);
}
