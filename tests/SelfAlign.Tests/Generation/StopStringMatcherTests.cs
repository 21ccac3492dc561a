using SelfAlign.Generation;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class StopStringMatcherTests
{
    [Fact]
    public void FindsStopSpanningPieces()
    {
        var m = new StopStringMatcher(["\n\n### User"]);
        Assert.Equal(-1, m.FindStop("Hello\n\n###", 0));
        Assert.Equal(5, m.FindStop("Hello\n\n### User: hi", 9));
    }

    [Fact]
    public void HoldsBackAPossibleStopPrefix()
    {
        var m = new StopStringMatcher(["</s>", "STOP"]);
        Assert.Equal(5, m.SafeLength("hello</"));
        Assert.Equal(6, m.SafeLength("hello ST"));   // "ST" may grow into "STOP"
        Assert.Equal(6, m.SafeLength("hello STO"));
        Assert.Equal(8, m.SafeLength("hello yo"));
        Assert.Equal(9, m.SafeLength("hello STx"));  // no stop starts with "STx", "Tx" or "x"
        Assert.Equal(0, m.SafeLength("</s"));
    }
}
