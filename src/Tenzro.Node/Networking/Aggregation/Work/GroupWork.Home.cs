using System.Text;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Aggregation;
using Tenzro.Node.Core.Aggregation.Split;
using Tenzro.Node.Core.Tasks;

namespace Tenzro.Node.Networking.Aggregation.Work;

/// <summary>The home's part: split, register, fetch the settled parts' results, combine.</summary>
internal sealed partial class GroupWork
{
    /// <summary>
    /// Runs a split parent on its home. The payloads are the same on every attempt (the split is deterministic), so
    /// a home that restarts finds its job still in the group state and goes on with it.
    /// </summary>
    public async Task<JsonObject> RunAsync(TaskExecutionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var spec = context.Task;
        var errors = new ValidationErrors();
        var request = SplitRequest.Read(spec, errors) ?? throw new TaskExecutionException("config.split: " + errors);
        var bodies = TaskSplitter.Split(spec, request);
        var parts = bodies.Select((body, index) => new SplitPart(index, _blobs.Put(Core.Json.CanonicalJson.Serialize(body)), [])).ToList();
        var job = new SplitJob(spec.TaskId, _identity.NodeId, spec.Type, spec.Owner, request.Redundancy, parts, []);
        var model = spec.Type == "inference" && spec.Data["model"] is JsonValue m && m.TryGetValue<string>(out var sha) ? sha.ToLowerInvariant() : null;
        var home = _homeJobs.GetOrAdd(spec.TaskId, _ => new HomeJob(job, request, model));
        LogSplit(_logger, spec.TaskId, parts.Count, request.Redundancy);
        Wanted?.Invoke();
        try
        {
            while (true)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                if (Log?.State.Job(spec.TaskId) is { } current)
                {
                    if (current.FailedWith is { } failure)
                    {
                        throw new TaskExecutionException(failure);
                    }

                    await FetchSettledAsync(home, current, context.CancellationToken);
                    context.Progress.Report((double)home.Results.Count / parts.Count);
                    if (home.Results.Count == parts.Count)
                    {
                        var result = TaskSplitter.Combine(spec, request, [.. home.Results.OrderBy(r => r.Key).Select(r => r.Value)]);
                        current = await AwaitStragglersAsync(current, context.CancellationToken);
                        _blobs.SaveSummary(spec.TaskId, Summary(current));
                        LogCombined(_logger, spec.TaskId, parts.Count);
                        return result;
                    }
                }

                await StateChangeAsync(context.CancellationToken);
            }
        }
        finally
        {
            // Done, failed or stopped: the leader drops the job, and members cancel what still runs of it. A home that
            // is shutting down keeps it, to resume when it starts again.
            if (!_lifetime.ApplicationStopping.IsCancellationRequested)
            {
                home.Finished = true;
                Wanted?.Invoke();
            }
            else
            {
                _homeJobs.TryRemove(spec.TaskId, out _);
            }
        }
    }

    /// <summary>
    /// With redundancy, the runs still going after the majority settled each part, and the copies the leader still has to
    /// give to members of the group that have not run them, are waited for (at most a lease), so that a member whose
    /// digest disagrees is marked before the job is dropped.
    /// </summary>
    private async Task<SplitJob> AwaitStragglersAsync(SplitJob job, CancellationToken cancellationToken)
    {
        var until = _time.GetUtcNow() + _options.Lease;
        while (job.Redundancy > 1 && job.Parts.Any(p => p.Runs.Any(r => r.State == RunState.Running) || CopyToCome(job, p)) && _time.GetUtcNow() < until)
        {
            await StateChangeAsync(cancellationToken);
            job = Log?.State.Job(job.ParentId) ?? job;
        }

        return job;
    }

    /// <summary>Whether a settled part still wants a copy that a member of the group that has not run it may take.</summary>
    private bool CopyToCome(SplitJob job, SplitPart part)
    {
        if (!JobPlanner.Unverified(job, part) || Log?.State.Members is not { } members)
        {
            return false;
        }

        var tried = part.Runs.Select(r => r.Member).ToHashSet(StringComparer.Ordinal);
        return members.Any(m => !tried.Contains(m.Id) && !job.Disagreed.Contains(m.Id));
    }

    /// <summary>Fetches the result of every settled part not fetched yet, from the member whose digest won.</summary>
    private async Task FetchSettledAsync(HomeJob home, SplitJob job, CancellationToken cancellationToken)
    {
        foreach (var part in job.Parts)
        {
            if (home.Results.ContainsKey(part.Index) || job.Winner(part) is not { Result: { } sha } winner)
            {
                continue;
            }

            if (home.Lost.TryGetValue(part.Index, out var lost))
            {
                if (lost == winner.Member)
                {
                    continue;
                }

                // Another member won the part since: start afresh with it.
                home.Lost.TryRemove(part.Index, out _);
                home.FetchFailedSince.TryRemove(part.Index, out _);
            }

            if ((home.FetchFailedSince.TryGetValue(part.Index, out var since) && _time.GetUtcNow() - since < ResendEvery * home.FetchTries(part.Index)))
            {
                continue;
            }

            try
            {
                var bytes = await _exchange.FetchAsync(LinkTo(winner.Member), sha, cancellationToken);
                home.Results[part.Index] = JsonNode.Parse(Encoding.UTF8.GetString(bytes)) as JsonObject
                    ?? throw new IOException("the part's result is not a JSON object");
                home.FetchFailedSince.TryRemove(part.Index, out _);
            }
            catch (IOException e)
            {
                var first = home.FetchFailedSince.GetOrAdd(part.Index, _time.GetUtcNow());
                home.CountFetchFailure(part.Index);
                LogFetchFailed(_logger, SplitJob.PartId(job.ParentId, part.Index), e.Message);
                if (_time.GetUtcNow() - first >= _options.Lease)
                {
                    // The member that holds the result is gone for a lease: its run no longer counts and the part runs again.
                    home.Lost[part.Index] = winner.Member;
                }
            }
        }
    }
}
