using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class PlanCalibrationTests
{
    private static PlanCalibration Measured(double alone, double batched) => new(0.4, 800, alone, batched, 8, 0.3, 256, 10);

    [Fact]
    public void AStepGrowsLinearlyWithSequencesFromTheMeasuredPoints()
    {
        var c = Measured(alone: 0.010, batched: 0.024);
        Assert.Equal(0.010, c.StepSeconds(1), 9);
        Assert.Equal(0.024, c.StepSeconds(8), 9);
        Assert.Equal(0.010 + 0.002 * 19, c.StepSeconds(20), 9);
    }

    [Fact]
    public void ABatchedStepMeasuredFasterThanOneAloneNeverGivesANegativeTime()
    {
        // what a busy machine measured in CI: extrapolating this slope to 20 sequences went below zero
        var c = Measured(alone: 0.2377, batched: 0.013);
        foreach (var n in new[] { 1, 8, 20, 64, 256 })
            Assert.Equal(0.013, c.StepSeconds(n), 9);
    }
}
