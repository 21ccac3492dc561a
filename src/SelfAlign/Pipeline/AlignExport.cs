using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Pipeline;

/// <summary>Formats others' trainers read: TRL's messages, Alpaca (Axolotl, LLaMA-Factory) and ShareGPT.</summary>
public enum ExportFormat { Messages, Alpaca, ShareGpt }

/// <summary>Writes a run's kept answers (the verbose ones when stage 4 ran, else stage 2's) in a standard format.</summary>
public static class AlignExport
{
    /// <summary>Returns the number of records written. Each keeps the run's id and the rules its internal thoughts named.</summary>
    public static int Export(string runDirectory, ExportFormat format, string outPath, AlignStage? stage = null)
    {
        var source = stage switch
        {
            AlignStage.Answers => AlignRun.AnswersFile,
            AlignStage.Verbose => AlignRun.VerboseFile,
            null => File.Exists(Path.Combine(runDirectory, AlignRun.VerboseFile)) ? AlignRun.VerboseFile : AlignRun.AnswersFile,
            _ => throw new InvalidInputException($"stage '{RunManifest.Name(stage.Value)}' has no answers to export; use answers or verbose"),
        };
        var path = Path.Combine(runDirectory, source);
        if (!File.Exists(path)) throw new InvalidInputException($"{path} does not exist: the run has not answered anything yet");
        var rules = JsonlFile.Read(Path.Combine(runDirectory, AlignRun.AnswersFile)).ToDictionary(r => r.Record["id"]!.GetValue<string>(), r => r.Record["rules"]?.DeepClone());
        var tmp = outPath + ".tmp";
        File.Delete(tmp);
        var count = 0;
        using (var w = new JsonlWriter(tmp))
            foreach (var (_, r) in JsonlFile.Read(path))
            {
                if (r["answer"] is null) continue;
                var id = r["id"]!.GetValue<string>();
                var q = r["instruction"]!.GetValue<string>();
                var a = r["answer"]!.GetValue<string>();
                JsonObject record = format switch
                {
                    ExportFormat.Messages => new JsonObject
                    {
                        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = q }, new JsonObject { ["role"] = "assistant", ["content"] = a }),
                    },
                    ExportFormat.Alpaca => new JsonObject { ["instruction"] = q, ["input"] = "", ["output"] = a },
                    _ => new JsonObject
                    {
                        ["conversations"] = new JsonArray(new JsonObject { ["from"] = "human", ["value"] = q }, new JsonObject { ["from"] = "gpt", ["value"] = a }),
                    },
                };
                record["id"] = id;
                record["rules"] = rules.GetValueOrDefault(id) ?? new JsonArray();
                w.Write(record);
                count++;
            }
        File.Move(tmp, outPath, overwrite: true);
        return count;
    }
}
