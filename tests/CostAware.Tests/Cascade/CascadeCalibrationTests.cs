using CsCheck;

namespace CostAware.Tests.Cascade;

public class CascadeCalibrationTests
{
    // Cheap tier: right when its score is high; strong tier: always right, ten times dearer.
    private static IReadOnlyList<IReadOnlyList<CascadeTierOutcome>> Examples() =>
    [
        [new(0.9, 1, 1m), new(1, 1, 10m)],
        [new(0.8, 1, 1m), new(1, 1, 10m)],
        [new(0.6, 0, 1m), new(1, 1, 10m)],
        [new(0.2, 0, 1m), new(1, 1, 10m)],
    ];

    [Fact]
    public void Calibrate_ChoosesTheCheapestThresholdThatMeetsTheTarget()
    {
        CascadeCalibrationResult result = CascadeCalibration.Calibrate(Examples(), targetQuality: 1.0);

        Assert.True(result.TargetMet);
        Assert.Equal([0.8], result.Chosen.Thresholds);
        Assert.Equal(1.0, result.Chosen.Quality);

        // Every request pays the cheap tier (1); two of four escalate (10 each): 6 on average.
        Assert.Equal(6m, result.Chosen.Cost);
    }

    [Fact]
    public void Calibrate_UnreachableTarget_BestQualityAndSaysSo()
    {
        IReadOnlyList<IReadOnlyList<CascadeTierOutcome>> examples = [[new(0.9, 1, 1m), new(1, 0.5, 10m)], [new(0.1, 0, 1m), new(1, 0.5, 10m)]];

        CascadeCalibrationResult result = CascadeCalibration.Calibrate(examples, targetQuality: 0.9);

        Assert.False(result.TargetMet);
        Assert.Equal(0.75, result.Chosen.Quality);
    }

    [Fact]
    public void Calibrate_CurveIsAFrontier_AndTheChoiceMeetsTheTargetWhenItSaysSo()
    {
        Gen<CascadeTierOutcome> outcome = Gen.Select(Gen.Double[0, 1], Gen.Int[0, 1], Gen.Int[1, 20]).Select(static t => new CascadeTierOutcome(Math.Round(t.Item1, 2), t.Item2, t.Item3));
        Gen.Select(Gen.Select(outcome, outcome, outcome).Array[1, 30], Gen.Double[0, 1]).Sample((rows, target) =>
        {
            IReadOnlyList<IReadOnlyList<CascadeTierOutcome>> examples = [.. rows.Select(r => (IReadOnlyList<CascadeTierOutcome>)[r.Item1, r.Item2, r.Item3])];
            CascadeCalibrationResult result = CascadeCalibration.Calibrate(examples, target);
            bool frontier = result.Curve.Zip(result.Curve.Skip(1)).All(p => p.Second.Cost >= p.First.Cost && p.Second.Quality > p.First.Quality);
            bool honest = !result.TargetMet || result.Chosen.Quality >= target;
            bool consistent = CascadeCalibration.Evaluate(examples, result.Chosen.Thresholds) == result.Chosen
                || CascadeCalibration.Evaluate(examples, result.Chosen.Thresholds).Quality == result.Chosen.Quality;
            return frontier && honest && consistent;
        });
    }

    [Fact]
    public void Calibrate_BadInput_Throws()
    {
        _ = Assert.Throws<ArgumentException>(() => CascadeCalibration.Calibrate([], 0.9));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => CascadeCalibration.Calibrate(Examples(), 1.5));
        _ = Assert.Throws<ArgumentException>(() => CascadeCalibration.Calibrate([[new(1, 1, 1m)]], 0.5));
    }
}
