import Testing

@testable import WorkerRuntime

@Suite struct ReserveSizerTests {
    @Test func autoClaimsNothingAheadBeforeAJobEnded() {
        #expect(ReserveSizer().plan(.auto, concurrency: 10) == .none)
    }

    @Test func autoHoldsWhatStartsWithinTwoCommits() {
        var sizer = ReserveSizer()
        sizer.committed(seconds: 0.002)
        sizer.jobRan("quick", seconds: 0.002)  // jobs as long as a commit: each slot starts two in two commits
        #expect(sizer.plan(.auto, concurrency: 10) == ReservePlan(count: 20, handlers: ["quick"]))
    }

    @Test func autoHoldsNothingForJobsLongerThanTwoCommits() {
        var sizer = ReserveSizer()
        sizer.committed(seconds: 0.002)
        sizer.jobRan("slow", seconds: 0.5)
        #expect(sizer.plan(.auto, concurrency: 10) == .none)
        #expect(sizer.plan(.auto, concurrency: 100) == .none)
    }

    @Test func autoIsCappedPerSlotAndInAll() {
        var sizer = ReserveSizer()
        sizer.jobRan("noop", seconds: 0.000_001)
        #expect(sizer.plan(.auto, concurrency: 10).count == 200)
        #expect(sizer.plan(.auto, concurrency: 500).count == 1_000)
    }

    /// A burst of short jobs does not make the worker hoard the long ones queued behind them.
    @Test func onlyShortHandlersAreClaimedAhead() {
        var sizer = ReserveSizer()
        sizer.jobRan("noop", seconds: 0.000_010)
        sizer.jobRan("sleep", seconds: 1)
        #expect(sizer.plan(.auto, concurrency: 10) == ReservePlan(count: 200, handlers: ["noop"]))
    }

    @Test func autoFollowsAHandlerWhoseJobsGetLonger() {
        var sizer = ReserveSizer()
        sizer.jobRan("resize", seconds: 0.000_010)
        #expect(sizer.plan(.auto, concurrency: 10).count == 200)
        for _ in 0..<100 { sizer.jobRan("resize", seconds: 1) }
        #expect(sizer.plan(.auto, concurrency: 10) == .none)
    }

    @Test func fixedIsWhatWasAskedWhateverTheMeasures() {
        var sizer = ReserveSizer()
        sizer.jobRan("slow", seconds: 10)
        #expect(sizer.plan(.fixed(3), concurrency: 1) == ReservePlan(count: 3, handlers: nil))
        #expect(sizer.plan(.fixed(0), concurrency: 10).count == 0)
    }
}
