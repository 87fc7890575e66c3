import Testing
@testable import WorkerRuntime

/// The drain's state machine alone: one deadline, on the clock it is given.
@Suite struct DrainStateTests {
    let start = ContinuousClock.now

    func state() -> DrainState {
        DrainState(drainTimeout: .seconds(7), cancelGrace: .seconds(1))
    }

    @Test func aDrainSetsOneDeadlineThatPluginsAndTheLoopShare() throws {
        var drain = state()
        let changeMade = drain.request(.drain(reason: "SIGTERM"), at: start)
        let change = try #require(changeMade)
        #expect(change.phase == .draining)
        #expect(change.pluginDeadline == start + .seconds(7))
        #expect(drain.mode == .draining(deadline: start + .seconds(7), reason: "SIGTERM"))
        #expect(change.release == "SIGTERM")
        #expect(change.cancel == nil, "a drain lets jobs finish")
        #expect(change.exitBy == start + .seconds(7) + .seconds(1) + DrainState.finalisation)
    }

    @Test func theDeadlinePassesOnlyWhenTheClockReachesIt() throws {
        var drain = state()
        _ = drain.request(.drain(reason: "SIGTERM"), at: start)
        #expect(drain.passDeadline(at: start + .milliseconds(6999)) == nil)
        #expect(drain.waitLimit(at: start + .milliseconds(6950)) == .milliseconds(50))
        let changeMade = drain.passDeadline(at: start + .seconds(7))
        let change = try #require(changeMade)
        #expect(change.cancel == "SIGTERM: drain deadline passed")
        #expect(change.phase == .stopping)
        #expect(drain.graceOver(at: start + .milliseconds(7999)) == nil)
        #expect(drain.graceOver(at: start + .seconds(8)) == "SIGTERM: drain deadline passed")
    }

    @Test func aSecondDrainStopsAtOnceAndAThirdChangesNothing() throws {
        var drain = state()
        _ = drain.request(.drain(reason: "SIGTERM"), at: start)
        let later = start + .seconds(2)
        let changeMade = drain.request(.drain(reason: "second SIGTERM"), at: later)
        let change = try #require(changeMade)
        #expect(change.cancel == "second SIGTERM")
        #expect(change.pluginDeadline == later, "plugins are told the deadline is now")
        #expect(drain.mode == .stopping(graceEnd: later + DrainState.immediateGrace, reason: "second SIGTERM"))
        #expect(drain.request(.drain(reason: "third"), at: later) == nil)
        #expect(drain.request(.immediate(reason: "SIGQUIT"), at: later) == nil)
    }

    @Test func quietThenDrain() throws {
        var drain = state()
        let quietMade = drain.request(.quiet, at: start)
        let quiet = try #require(quietMade)
        #expect(quiet.phase == .quiet && quiet.cancel == nil && quiet.pluginDeadline == nil)
        #expect(drain.request(.quiet, at: start) == nil)
        #expect(drain.stopReason == "quiet")
        let changeMade = drain.request(.drain(reason: "SIGTERM"), at: start + .seconds(60))
        let change = try #require(changeMade)
        #expect(change.pluginDeadline == start + .seconds(67))
    }
}
