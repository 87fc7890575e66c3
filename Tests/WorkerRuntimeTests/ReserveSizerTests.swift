import Testing

@testable import WorkerRuntime

@Suite struct ReserveSizerTests {
    @Test func autoClaimsNothingAheadBeforeAJobEnded() {
        #expect(ReserveSizer().target(.auto, concurrency: 10) == 0)
    }

    @Test func autoHoldsWhatStartsWithinTwoCommits() {
        var sizer = ReserveSizer()
        sizer.committed(seconds: 0.002)
        sizer.jobRan(seconds: 0.002)  // jobs as long as a commit: each slot starts two in two commits
        #expect(sizer.target(.auto, concurrency: 10) == 20)
    }

    @Test func autoHoldsNothingForJobsLongerThanTwoCommits() {
        var sizer = ReserveSizer()
        sizer.committed(seconds: 0.002)
        sizer.jobRan(seconds: 0.5)
        #expect(sizer.target(.auto, concurrency: 10) == 0)
        #expect(sizer.target(.auto, concurrency: 100) == 0)
    }

    @Test func autoIsCappedPerSlotAndInAll() {
        var sizer = ReserveSizer()
        sizer.jobRan(seconds: 0.000_001)  // a no-op job
        #expect(sizer.target(.auto, concurrency: 10) == 200)
        #expect(sizer.target(.auto, concurrency: 500) == 1_000)
    }

    @Test func autoFollowsTheJobsAsTheyChange() {
        var sizer = ReserveSizer()
        sizer.jobRan(seconds: 0.000_010)
        #expect(sizer.target(.auto, concurrency: 10) == 200)
        for _ in 0..<100 { sizer.jobRan(seconds: 1) }  // the queue turns to long jobs: the reserve goes
        #expect(sizer.target(.auto, concurrency: 10) == 0)
    }

    @Test func fixedIsWhatWasAskedWhateverTheMeasures() {
        var sizer = ReserveSizer()
        sizer.jobRan(seconds: 10)
        #expect(sizer.target(.fixed(3), concurrency: 1) == 3)
        #expect(sizer.target(.fixed(0), concurrency: 10) == 0)
    }
}
