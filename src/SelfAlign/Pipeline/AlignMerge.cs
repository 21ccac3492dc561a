using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Pipeline;

/// <summary>What <see cref="AlignMerge.Merge"/> joined.</summary>
public sealed record AlignMergeResult(AlignStage Stage, int Shards, int Records, string Directory, bool StageComplete);

/// <summary>
/// Joins the run directories of a sharded stage (<c>align run --shard i/n</c> on n machines) into one run: the parts must
/// come from the same settings and inputs (equal fingerprints), be n distinct finished shards of n, and hold exactly
/// their part's records, each once; the merged file lists them in the stage's input order. A merged answers stage is
/// finished; a merged verbose stage still trains when <c>align run</c> continues the merged directory.
/// </summary>
public static class AlignMerge
{
    public static AlignMergeResult Merge(IReadOnlyList<string> shardDirectories, string outDirectory)
    {
        if (shardDirectories.Count == 0) throw new InvalidInputException("give the run directories of the shards to merge");
        var manifests = shardDirectories.Select(d => RunManifest.Exists(d) ? RunManifest.Open(d) : throw new InvalidInputException($"no Self-Align run in {d} (no {RunManifest.FileName})")).ToList();
        var stage = ShardedStage(shardDirectories[0], manifests[0]);
        var shards = new RunShard[manifests.Count];
        for (var k = 0; k < manifests.Count; k++)
        {
            var (dir, m) = (shardDirectories[k], manifests[k]);
            if (ShardedStage(dir, m) != stage) throw new InvalidInputException($"{dir} holds a shard of stage '{RunManifest.Name(ShardedStage(dir, m))}', not '{RunManifest.Name(stage)}'");
            shards[k] = RunShard.Parse(m.Stage(stage)!["shard"]!.GetValue<string>());
            if (m.Stage(stage)!["shard_complete"]?.GetValue<bool>() != true)
                throw new InvalidInputException($"{dir}: shard {shards[k]} of stage '{RunManifest.Name(stage)}' has not finished; run it again to finish it");
            foreach (var s in Enum.GetValues<AlignStage>().Where(s => s <= stage))
                if (Fingerprint(m, s) != Fingerprint(manifests[0], s))
                    throw new InvalidInputException($"{dir} and {shardDirectories[0]} ran stage '{RunManifest.Name(s)}' with different settings or inputs: they are not shards of one run");
        }
        var n = shards[0].Count;
        if (shards.Any(s => s.Count != n)) throw new InvalidInputException($"the shards split the stage differently ({string.Join(", ", shards.Select(s => s.ToString()))})");
        if (shards.GroupBy(s => s.Index).FirstOrDefault(g => g.Count() > 1) is { } twice) throw new InvalidInputException($"shard {twice.Key}/{n} is given twice");
        if (Enumerable.Range(0, n).FirstOrDefault(i => shards.All(s => s.Index != i), -1) is var missing and >= 0)
            throw new InvalidInputException($"shard {missing}/{n} is missing: give all {n} shards");
        if (Directory.Exists(outDirectory) && Directory.EnumerateFileSystemEntries(outDirectory).Any())
            throw new InvalidInputException($"--out {outDirectory} is not empty: merge into a new directory");

        // every record of the stage's input exactly once, each in the shard that owns its position
        var first = shardDirectories[0];
        var input = InputIds(first, manifests[0], stage);
        var file = stage == AlignStage.Answers ? AlignRun.AnswersFile : AlignRun.VerboseFile;
        var byId = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        for (var k = 0; k < manifests.Count; k++)
        {
            var path = Path.Combine(shardDirectories[k], file);
            var expected = input.Where((_, i) => shards[k].Takes(i)).ToHashSet(StringComparer.Ordinal);
            var got = File.Exists(path) ? JsonlFile.Read(path).Select(r => (JsonObject)r.Record).ToList() : [];
            foreach (var record in got)
            {
                var id = record["id"]?.GetValue<string>() ?? throw new InvalidInputException($"{path}: a record without an id");
                if (!expected.Contains(id)) throw new InvalidInputException($"{path}: record {id} is not in shard {shards[k]}'s part");
                if (!byId.TryAdd(id, record)) throw new InvalidInputException($"{path}: record {id} appears twice");
            }
            if (got.Count != expected.Count) throw new InvalidInputException($"{path}: shard {shards[k]} holds {got.Count} records of its {expected.Count}");
        }

        CopyRun(first, outDirectory, skip: [file, RunManifest.FileName]);
        var merged = Path.Combine(outDirectory, file);
        using (var writer = new JsonlWriter(merged))
            foreach (var id in input) writer.Write(byId[id]);

        var manifest = RunManifest.Open(outDirectory);
        foreach (var (key, value) in manifests[0].Root) manifest.Root[key] = value?.DeepClone();
        var entry = manifest.Stage(stage)!;
        entry.Remove("shard");
        entry.Remove("shard_complete");
        entry["merged_from"] = new JsonArray(shardDirectories.Select(d => (JsonNode)Path.GetFullPath(d)).ToArray());
        var complete = stage == AlignStage.Answers;
        if (complete)
        {
            var counts = AnswerStage.Counts(merged);
            double Sum(string key) => manifests.Sum(m => m.Stage(stage)!["counts"]?[key]?.GetValue<double>() ?? 0);
            counts["tokens_generated"] = Sum("tokens_generated");
            counts["shard_seconds_total"] = Sum("seconds"); // machine time across the shards, not wall time
            manifest.Save();
            manifest.Complete(stage, counts);
        }
        else
        {
            entry.Remove("counts");
            entry["complete"] = false;
            manifest.Save();
        }
        return new AlignMergeResult(stage, n, input.Count, outDirectory, complete);
    }

    private static AlignStage ShardedStage(string dir, RunManifest m) =>
        Enum.GetValues<AlignStage>().Where(s => m.Stage(s)?["shard"] is not null).ToList() switch
        {
            [var one] => one,
            [] => throw new InvalidInputException($"{dir} holds no shard (run it with align run --shard i/n)"),
            var many => throw new InvalidInputException($"{dir} holds shards of {many.Count} stages; merge one stage at a time"),
        };

    private static string? Fingerprint(RunManifest m, AlignStage s) => m.Stage(s)?["fingerprint"]?.GetValue<string>();

    /// <summary>The ids of the stage's input, in the order the shards were cut from (the stages' own input lists).</summary>
    private static List<string> InputIds(string dir, RunManifest m, AlignStage stage) =>
        stage == AlignStage.Verbose
            ? VerboseStage.Input(dir).Select(q => q.Id).ToList()
            : AnswerStage.Input(dir, m.Stage(AlignStage.Answers)?["settings"]?["answers"]?["limit"]?.GetValue<int>() ?? 0).Select(p => p.Id).ToList();

    private static void CopyRun(string from, string to, IReadOnlyCollection<string> skip)
    {
        Directory.CreateDirectory(to);
        foreach (var path in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, path);
            if (skip.Contains(relative)) continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(path, target);
        }
    }
}
