using SelfAlign.Generation;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class TurnFormatTests
{
    [Fact]
    public void TurnFormatFromYamlFormatsTurnsAndStopsAtTheNextUserTurn()
    {
        var path = Path.Combine(TestModels.Directory, "dromedary-style.yaml");
        File.WriteAllText(path, "user_header: \"### User\\n\"\nassistant_header: \"### Dromedary\\n\"\nseparator: \"\\n\\n\"\nstop: [\"### Human\"]\n");
        var format = TurnFormat.Load(path);
        Assert.Equal("### User\nhi\n\n### Dromedary\nhello\n\n### User\nand?\n\n### Dromedary\n",
            format.Format([new ChatTurn("user", "hi"), new ChatTurn("assistant", "hello"), new ChatTurn("user", "and?")]));
        Assert.Equal(["\n\n### User", "### Human"], format.StopStrings);
        Assert.Throws<InvalidInputException>(() => format.Format([new ChatTurn("robot", "x")]));
    }

    [Fact]
    public void MalformedYamlNamesTheFileAndLine()
    {
        var path = Path.Combine(TestModels.Directory, "broken.yaml");
        File.WriteAllText(path, "user_header: \"ok\"\nassistant_header: [unclosed\n");
        Assert.StartsWith($"{path}:", Assert.Throws<InvalidInputException>(() => TurnFormat.Load(path)).Message);
    }
}
