import WorkerStore

/// The jobs a worker claimed ahead of its free slots (`prefetch`), how many it should hold, and the suspect: a
/// job under which a worker died, run alone, with nothing else claimed until it ends.
struct Reserve {
    private(set) var jobs: [Job] = []
    private(set) var suspect: Int64?
    private var sizer = ReserveSizer()
    let prefetch: Prefetch
    let concurrency: Int

    init(prefetch: Prefetch, concurrency: Int) {
        self.prefetch = prefetch
        self.concurrency = concurrency
    }

    var isEmpty: Bool { jobs.isEmpty }
    var count: Int { jobs.count }

    /// What to hold claimed ahead now: nothing while a suspect runs alone.
    var plan: ReservePlan {
        suspect == nil ? sizer.plan(prefetch, concurrency: concurrency) : .none
    }

    /// Slots a claim may fill now (none while a suspect runs alone), `running` jobs being in flight.
    func freeSlots(running: Int) -> Int {
        suspect == nil ? concurrency - running : 0
    }

    /// What a claim should ask for: jobs for the free slots (any handler), and jobs to claim ahead (short ones).
    func claimSizes(running: Int) -> (now: Int, ahead: Int, aheadHandlers: [String]?) {
        let free = freeSlots(running: running)
        let plan = self.plan
        return (max(0, free - jobs.count), max(0, plan.count - max(0, jobs.count - free)), plan.handlers)
    }

    /// Jobs worth a claim round: the free slots and the reserve's room.
    func wanted(running: Int) -> Int {
        suspect == nil ? concurrency - running + plan.count - jobs.count : 0
    }

    /// Takes the claimed jobs; a lone job under which `suspectCrashes` workers died (nil: suspects are not
    /// isolated) becomes the suspect.
    mutating func add(_ claimed: [Job], suspectCrashes: Int?) -> Job? {
        var isolated: Job?
        if let first = claimed.first, let suspectCrashes, first.crashes >= suspectCrashes, first.state == .running, claimed.count == 1 {
            suspect = first.id
            isolated = first
        }
        jobs += claimed
        return isolated
    }

    /// The next job to start, if any.
    mutating func next() -> Job? {
        jobs.isEmpty ? nil : jobs.removeFirst()
    }

    /// Takes the job `id` out of the reserve (cancelled before it started).
    mutating func remove(_ id: Int64) -> Job? {
        guard let index = jobs.firstIndex(where: { $0.id == id }) else { return nil }
        return jobs.remove(at: index)
    }

    /// Gives back every claimed-ahead job (a drain or quiet began).
    mutating func releaseAll() -> [Job] {
        defer { jobs.removeAll() }
        return jobs
    }

    /// Gives back claimed-ahead jobs whose handler is no longer short enough to be claimed ahead (its jobs got
    /// longer): held here they would wait for a slot that an idle peer could give them sooner.
    mutating func releaseNoLongerShort() -> [Job] {
        guard suspect == nil, !jobs.isEmpty, let short = plan.handlers.map(Set.init) else { return [] }
        let slow = jobs.filter { !short.contains($0.handler) }
        jobs.removeAll { !short.contains($0.handler) }
        return slow
    }

    /// A job ended after `seconds`: its handler's mean is updated, and a suspect no longer holds the worker.
    mutating func jobEnded(_ id: Int64, handler: String, seconds: Double) {
        sizer.jobRan(handler, seconds: seconds)
        if suspect == id { suspect = nil }
    }

    /// A finish-and-claim commit took `seconds`.
    mutating func committed(seconds: Double) {
        sizer.committed(seconds: seconds)
    }
}
