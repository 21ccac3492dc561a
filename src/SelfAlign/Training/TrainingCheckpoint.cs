using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SelfAlign.Training;

/// <summary>
/// The state saved at each epoch end beside the weights: which epoch finished, how many steps were taken and
/// a fingerprint of everything that decides the result, so a resume refuses a changed run.
/// LoRA runs also checkpoint within an epoch: <see cref="WindowsDone"/> windows of the current epoch are done, with
/// the loss so far, and the adapter and optimizer state are saved under the step number.
/// </summary>
public sealed record TrainingCheckpoint(int EpochsDone, int Steps, string Fingerprint, List<EpochReport> Epochs, double InitialLoss)
{
    public const string StateFile = "state.json";
    public const string WeightsFile = "weights.gguf";

    public int WindowsDone { get; init; }
    public double EpochLossSum { get; init; }
    public long EpochLossCount { get; init; }

    public static string AdapterFile(int steps) => $"adapter-{steps:D8}.gguf";
    public static string OptimizerFile(int steps) => $"optimizer-{steps:D8}.bin";

    public static TrainingCheckpoint? Load(string dir)
    {
        var path = Path.Combine(dir, StateFile);
        return File.Exists(path) ? JsonSerializer.Deserialize<TrainingCheckpoint>(File.ReadAllText(path)) : null;
    }

    /// <summary>Writes state after the weights; each by temp file and rename, so a kill leaves the previous checkpoint whole.</summary>
    public void Save(string dir)
    {
        var tmp = Path.Combine(dir, StateFile + ".tmp");
        File.WriteAllText(tmp, JsonSerializer.Serialize(this));
        File.Move(tmp, Path.Combine(dir, StateFile), overwrite: true);
    }

    /// <summary>Hash of the settings, the base model's and the data's content.</summary>
    public static string MakeFingerprint(TrainingOptions o, string modelPath, string dataPath)
    {
        var settings = o with { Resume = false, Quantize = null, ExtractLoraRank = 0, CheckpointDirectory = null, Threads = 0, ThreadPolling = null, AdaptThreads = false, CheckpointEvery = 0, MergedOut = null, PeftOut = null };
        var sb = new StringBuilder(JsonSerializer.Serialize(settings with { Format = null! }));
        sb.Append(JsonSerializer.Serialize(o.Format));
        sb.Append(FileHash(modelPath)).Append(FileHash(dataPath));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..16];
    }

    /// <summary>Size plus the hash of the first 64 MiB: cheap on multi-gigabyte models, and catches any other file.</summary>
    private static string FileHash(string path)
    {
        using var fs = File.OpenRead(path);
        var head = new byte[Math.Min(fs.Length, 64L << 20)];
        fs.ReadExactly(head);
        return fs.Length + ":" + Convert.ToHexString(SHA256.HashData(head));
    }
}
