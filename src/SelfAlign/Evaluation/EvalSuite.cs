namespace SelfAlign.Evaluation;

/// <summary>The benchmark suites <c>selfalign eval</c> runs.</summary>
public enum EvalSuite
{
    /// <summary>TruthfulQA multiple choice: MC1, MC2 and the true/false MC1.</summary>
    TruthfulqaMc,
    /// <summary>BIG-bench HHH: the better of two replies, per subset.</summary>
    Hhh,
    /// <summary>Answers to red-team prompts (HH-RLHF first turns, or the red-team attempts) judged harmless or not.</summary>
    Harmless,
    /// <summary>Answers to AdvBench's harmful goals: judged, and by the refusal-phrase metric.</summary>
    Advbench,
    /// <summary>Open questions (Vicuna-80, MT-Bench) answered by the model and a baseline; win, tie or loss by the judge in both positions.</summary>
    Pairwise,
}

/// <summary>How the generation suites answer.</summary>
public enum EvalDecoder { Greedy, Sample, Rain }
