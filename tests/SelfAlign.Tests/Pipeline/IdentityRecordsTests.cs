using SelfAlign.Data;
using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class IdentityRecordsTests
{
    private static readonly IdentityConfig Identity = new() { Name = "Kestrel", Maker = "the Harbour Lab" };

    private static string Write(string name, params string[] lines) => TestFiles.Write("identity", name, string.Join('\n', lines) + "\n");

    [Fact]
    public void NameAndMakerComeFromTheConfig()
    {
        var path = Write("ok.jsonl", """{"question": "Who are you?", "answer": "I am {name}, made by {maker}."}""", """{"question": "Is {name} your name?", "answer": "Yes."}""");
        Assert.Equal([("Who are you?", "I am Kestrel, made by the Harbour Lab."), ("Is Kestrel your name?", "Yes.")], IdentityRecords.Read(path, Identity));
    }

    [Fact]
    public void MalformedLinesNameFileAndLine()
    {
        var missing = Write("missing.jsonl", """{"question": "Who are you?", "answer": "I am {name}."}""", """{"question": "Who made you?"}""");
        var e = Assert.Throws<JsonlFormatException>(() => IdentityRecords.Read(missing, Identity));
        Assert.Equal(2, e.Line);
        Assert.Contains("answer", e.Message);

        var unknown = Write("unknown.jsonl", """{"question": "Where are you from?", "answer": "From {city}."}""");
        Assert.Contains("unknown.jsonl:1: only {name} and {maker}", Assert.Throws<JsonlFormatException>(() => IdentityRecords.Read(unknown, Identity)).Message);
    }

    [Fact]
    public void TheShippedRecordsFillIn()
    {
        var shipped = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "data", "selfalign", "identity.jsonl");
        var records = IdentityRecords.Read(shipped, Identity);
        Assert.InRange(records.Count, 30, 1000);
        Assert.All(records, r => Assert.DoesNotContain("{", r.Question + r.Answer));
        Assert.Contains(records, r => r.Answer.Contains("Kestrel") && r.Answer.Contains("the Harbour Lab"));
    }
}
