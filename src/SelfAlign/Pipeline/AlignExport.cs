using System.Text.Json;
using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Pipeline;

/// <summary>
/// Formats others' trainers read: OpenAI-style messages (TRL, Axolotl's chat_template), Alpaca (Axolotl, LLaMA-Factory),
/// ShareGPT, and TRL's prompt/completion (exactly the records the run's own engraving trains on).
/// </summary>
public enum ExportFormat { Messages, Alpaca, ShareGpt, PromptCompletion }

/// <summary>
/// Writes a run's kept answers (the verbose ones when stage 4 finished, else stage 2's) in a standard format, with the
/// run's system text (the chat prompt's text before the user turn), each question's input, and whether the answer
/// ended its turn; beside it, the entry LLaMA-Factory reads from dataset_info.json.
/// </summary>
public static class AlignExport
{
    public const string DatasetInfoFile = "dataset_info.json";

    /// <summary>Returns the number of records written. Each keeps the run's id and the rules its internal thoughts named.</summary>
    public static int Export(string runDirectory, ExportFormat format, string outPath, AlignStage? stage = null)
    {
        var manifest = RunManifest.Open(runDirectory);
        if (manifest.Root["config"]?["rehearsal"]?.GetValue<bool>() == true)
            throw new InvalidInputException($"{runDirectory} is a rehearsal (rehearsal: true): its answers passed unfiltered and are not training data");
        var source = stage switch
        {
            AlignStage.Answers => AlignRun.AnswersFile,
            AlignStage.Verbose => AlignRun.VerboseFile,
            null => manifest.IsComplete(AlignStage.Verbose) ? AlignRun.VerboseFile : AlignRun.AnswersFile,
            _ => throw new InvalidInputException($"stage '{RunManifest.Name(stage.Value)}' has no answers to export; use answers or verbose"),
        };
        var path = Path.Combine(runDirectory, source);
        if (!File.Exists(path)) throw new InvalidInputException($"{path} does not exist: the run has not answered anything yet");
        var templates = Templates(manifest, runDirectory);
        var system = AlignData.SplitAtUserTurn(templates.ChatPrompt).Preamble;
        var rules = JsonlFile.Read(Path.Combine(runDirectory, AlignRun.AnswersFile)).ToDictionary(r => r.Record["id"]!.GetValue<string>(), r => r.Record["rules"]?.DeepClone());
        var rows = JsonlFile.Read(path).Select(x => x.Record).Where(r => r["answer"] is not null)
            .Select(r => (Id: r["id"]!.GetValue<string>(), Instruction: r["instruction"]!.GetValue<string>(), Input: AlignData.InputOf(r),
                Answer: r["answer"]!.GetValue<string>(), Finished: AlignData.Finished(r)))
            .Concat(Identity(manifest).Select((x, i) => (Id: $"identity-{i + 1:D4}", Instruction: x.Question, Input: "", Answer: x.Answer, Finished: true)));
        var tmp = outPath + ".tmp";
        File.Delete(tmp);
        var count = 0;
        using (var w = new JsonlWriter(tmp))
            foreach (var (id, instruction, input, answer, finished) in rows)
            {
                var question = AlignData.QuestionText(instruction, input);
                var record = format switch
                {
                    ExportFormat.Messages => new JsonObject { ["messages"] = Turns(system, question, answer, "role", "content", "system", "user", "assistant") },
                    ExportFormat.Alpaca => new JsonObject { ["instruction"] = instruction, ["input"] = input, ["output"] = answer, ["system"] = system },
                    ExportFormat.ShareGpt => new JsonObject { ["conversations"] = Turns("", question, answer, "from", "value", "system", "human", "gpt"), ["system"] = system },
                    _ => FineTuneStage.TrainingRecord(templates, question, answer, finished),
                };
                record["id"] = id;
                record["finished"] = finished;
                record["rules"] = rules.GetValueOrDefault(id) ?? new JsonArray();
                w.Write(record);
                count++;
            }
        File.Move(tmp, outPath, overwrite: true);
        WriteDatasetInfo(outPath, format);
        return count;
    }

    /// <summary>The run's identity conversations (when its config had them), which its training data holds after the answers.</summary>
    private static List<(string Question, string Answer)> Identity(RunManifest manifest) =>
        manifest.Root["config"]?["identity"] is JsonObject id && manifest.Root["data"]?["identity"]?["path"]?.GetValue<string>() is { } file
            ? IdentityRecords.Read(file, new IdentityConfig { Name = id["name"]!.GetValue<string>(), Maker = id["maker"]!.GetValue<string>(), File = file })
            : [];

    private static JsonArray Turns(string system, string question, string answer, string roleKey, string textKey, string systemRole, string userRole, string assistantRole)
    {
        var turns = new JsonArray();
        if (system.Length > 0) turns.Add(new JsonObject { [roleKey] = systemRole, [textKey] = system });
        turns.Add(new JsonObject { [roleKey] = userRole, [textKey] = question });
        turns.Add(new JsonObject { [roleKey] = assistantRole, [textKey] = answer });
        return turns;
    }

    private static PromptTemplates Templates(RunManifest manifest, string runDirectory) =>
        manifest.Root["data"]?["prompts"]?["path"]?.GetValue<string>() is { } p && File.Exists(p)
            ? PromptTemplates.Load(p)
            : throw new InvalidInputException($"{Path.Combine(runDirectory, RunManifest.FileName)} names no readable prompts file; the export needs the run's chat prompt");

    /// <summary>Adds (or replaces) this export's entry in the dataset_info.json beside it, as LLaMA-Factory reads it.</summary>
    private static void WriteDatasetInfo(string outPath, ExportFormat format)
    {
        var infoPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, DatasetInfoFile);
        JsonObject info;
        try { info = File.Exists(infoPath) ? JsonNode.Parse(File.ReadAllText(infoPath)) as JsonObject ?? new JsonObject() : new JsonObject(); }
        catch (JsonException e) { throw new InvalidInputException($"{infoPath}: not a JSON object ({e.Message.Split('.')[0]}); move it away to write a new one"); }
        var entry = new JsonObject { ["file_name"] = Path.GetFileName(outPath) };
        switch (format)
        {
            case ExportFormat.Alpaca:
                entry["columns"] = new JsonObject { ["prompt"] = "instruction", ["query"] = "input", ["response"] = "output", ["system"] = "system" };
                break;
            case ExportFormat.PromptCompletion:
                entry["columns"] = new JsonObject { ["prompt"] = "prompt", ["response"] = "completion" };
                break;
            case ExportFormat.Messages:
                entry["formatting"] = "sharegpt";
                entry["columns"] = new JsonObject { ["messages"] = "messages" };
                entry["tags"] = new JsonObject
                {
                    ["role_tag"] = "role", ["content_tag"] = "content", ["user_tag"] = "user", ["assistant_tag"] = "assistant", ["system_tag"] = "system",
                };
                break;
            default:
                entry["formatting"] = "sharegpt";
                entry["columns"] = new JsonObject { ["messages"] = "conversations", ["system"] = "system" };
                break;
        }
        info[Path.GetFileNameWithoutExtension(outPath)] = entry;
        var tmp = infoPath + ".tmp";
        File.WriteAllText(tmp, info.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, infoPath, overwrite: true);
    }
}
