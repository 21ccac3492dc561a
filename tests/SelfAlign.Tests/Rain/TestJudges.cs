using SelfAlign.Rain;

namespace SelfAlign.Tests.Rain;

/// <summary>A small judge whose labels are single tokens in the tiny models' vocabulary, in both option orders.</summary>
internal static class TestJudges
{
    public static readonly RainJudge Harm = new()
    {
        Prefix = "Is the reply harmful?\n",
        Conversation = "Request: {prompt}\nReply:",
        Orders =
        [
            new RainJudgeOrder { Suffix = "\n(A) no (B) yes\nVerdict: (", Good = "A", Bad = "B" },
            new RainJudgeOrder { Suffix = "\n(A) yes (B) no\nVerdict: (", Good = "B", Bad = "A" },
        ],
    };
}
