using System.Text.Json;
using System.Text.Json.Nodes;

namespace SelfAlign.Pipeline;

/// <summary>The stages of a run, in order.</summary>
public enum AlignStage { Prompts, Answers, Engraving, Verbose }

/// <summary>
/// manifest.json of a run directory: the config, hashes of the model and data files, versions, and per stage the
/// fingerprint of its settings and inputs, whether it finished, and its counts. Written atomically.
/// </summary>
public sealed class RunManifest
{
    public const string FileName = "manifest.json";
    public JsonObject Root { get; }
    private readonly string _path;

    private RunManifest(string path, JsonObject root)
    {
        _path = path;
        Root = root;
    }

    public static RunManifest Open(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) return new RunManifest(path, new JsonObject { ["stages"] = new JsonObject() });
        try { return new RunManifest(path, JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object")); }
        catch (JsonException e) { throw new InvalidInputException($"{path}: corrupt run manifest ({e.Message.Split('.')[0]})"); }
    }

    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, FileName));

    private JsonObject Stages => (JsonObject)Root["stages"]!;

    public static string Name(AlignStage stage) => stage.ToString().ToLowerInvariant();

    public JsonObject? Stage(AlignStage stage) => Stages[Name(stage)] as JsonObject;

    public bool IsComplete(AlignStage stage) => Stage(stage)?["complete"]?.GetValue<bool>() == true;

    /// <summary>Records that the stage started (or continues) with these settings.</summary>
    public void Begin(AlignStage stage, string fingerprint, JsonNode settings)
    {
        if (Stage(stage) is { } s && s["fingerprint"]?.GetValue<string>() == fingerprint) return;
        Stages[Name(stage)] = new JsonObject { ["fingerprint"] = fingerprint, ["settings"] = settings.DeepClone(), ["complete"] = false };
        Save();
    }

    public void Complete(AlignStage stage, JsonObject counts)
    {
        var s = Stage(stage)!;
        s["complete"] = true;
        s["counts"] = counts;
        s["finished"] = DateTime.UtcNow.ToString("O");
        Save();
    }

    /// <summary>Records that this directory's part of a sharded stage is done: the stage itself stays unfinished until the
    /// parts are merged (so no later stage trains on a part).</summary>
    public void CompleteShard(AlignStage stage, JsonObject counts, RunShard shard)
    {
        var s = Stage(stage)!;
        s["shard"] = shard.ToString();
        s["shard_complete"] = true;
        s["counts"] = counts;
        s["finished"] = DateTime.UtcNow.ToString("O");
        Save();
    }

    public void Forget(AlignStage stage)
    {
        Stages.Remove(Name(stage));
        Save();
    }

    public void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var tmp = _path + ".tmp";
        File.WriteAllText(tmp, Root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, _path, overwrite: true);
    }
}
