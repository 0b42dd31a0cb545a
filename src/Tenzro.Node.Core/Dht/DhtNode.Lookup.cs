using System.Text.Json.Nodes;
using Tenzro.Node.Core.Peers;

namespace Tenzro.Node.Core.Dht;

public sealed partial class DhtNode
{
    /// <summary>
    /// The iterative lookup of Kademlia: the first round (a hop) asks the α closest nodes of the routing table, every
    /// later round all of the k closest nodes learned and not asked yet; it ends when the k closest have all answered
    /// or failed. A node whose first attempt times out (the timeout follows the round trips measured) does not hold
    /// its round up: the next round asks past it while its retry runs, and a late answer still counts. With
    /// <paramref name="findValue"/> the nodes are asked for the records under <paramref name="target"/> too; a lookup
    /// of a node id ends at the first record of that node.
    /// </summary>
    public Task<DhtLookupResult> LookupAsync(DhtId target, bool findValue = false, IEnumerable<DhtContact>? seeds = null) =>
        Start(new Lookup(this, target, findValue, gather: false, seeds ?? []));

    /// <summary>
    /// The lookup of a key that many records share (a tier key): FIND_VALUE requests list the records found so far, so
    /// that holders send only the others; the search ends once the α closest nodes it knows have each answered
    /// <c>complete</c> (every record they keep under the key, less those listed), asking a holder that could not send
    /// everything again for records only, instead of asking all of the k closest.
    /// </summary>
    private Task<DhtLookupResult> GatherAsync(DhtId key) => Start(new Lookup(this, key, findValue: true, gather: true, []));

    private Task<DhtLookupResult> Start(Lookup lookup)
    {
        Locked(lookup.Start);
        return lookup.Completion.Task;
    }

    private void Completed(DhtLookupResult result, TaskCompletionSource<DhtLookupResult> completion)
    {
        var handler = LookupCompleted;
        _after.Add(() =>
        {
            handler?.Invoke(result);
            completion.TrySetResult(result);
        });
    }

    private void Found(NodeRecord record)
    {
        var handler = RecordFound;
        if (handler is not null)
        {
            _after.Add(() => handler(record));
        }
    }

    private sealed class Lookup(DhtNode node, DhtId target, bool findValue, bool gather, IEnumerable<DhtContact> seeds)
    {
        /// <summary>
        /// How many times a gathering lookup asks one holder again for the records it could not send: a key holds 64 records
        /// at most, and a reply carries about 4 (one a datagram).
        /// </summary>
        private const int MaxAskedAgain = 8;

        private readonly SortedList<DhtId, Candidate> _candidates = new(Comparer<DhtId>.Create(target.CompareDistance));
        private readonly Dictionary<string, NodeRecord> _records = new(StringComparer.Ordinal);
        private readonly DateTimeOffset _startedAt = node._time.GetUtcNow();
        private int _hops;
        private int _roundOpen;
        private bool _done;

        public TaskCompletionSource<DhtLookupResult> Completion { get; } = new();

        private bool StopsAtFirstValue => findValue && _records.ContainsKey(target.ToString());

        public void Start()
        {
            foreach (var contact in node.Table.Closest(target, node.Options.K).Concat(seeds).Where(c => c.Id != node.Self))
            {
                _candidates.TryAdd(contact.Id, new Candidate(contact));
            }

            NextRound();
        }

        private void NextRound()
        {
            if (_done || (gather && Gathered()))
            {
                return;
            }

            // The k closest that may still answer rank the result; a node whose first attempt timed out (slow) keeps
            // its place there until its retry ends, but the next round asks past it, so that a node that left costs
            // no extra round once its retry fails.
            var ranked = _candidates.Values.Where(c => c.State != CandidateState.Failed).Take(node.Options.K).ToList();
            var askable = _candidates.Values.Where(c => c.State is not (CandidateState.Failed or CandidateState.Slow)).Take(node.Options.K).ToList();

            // The first round asks the α closest of the routing table; their answers name nodes near the target, so
            // every later round asks all of the k closest not asked yet (Kademlia's last step, taken from the second
            // round on), which ends a lookup in a few rounds instead of k / α. A gathering lookup ends on the answers of
            // the α closest (Gathered), so each of its rounds asks the α closest not asked yet, as Kademlia's rounds do.
            var fresh = askable.Where(c => c.State == CandidateState.New);
            var ask = (_hops == 0 || gather ? fresh.Take(node.Options.Alpha) : fresh).ToList();
            if (ask.Count == 0)
            {
                if (!ranked.Exists(c => c.State is CandidateState.Asked or CandidateState.Slow))
                {
                    Finish();
                }

                return;
            }

            _hops++;
            _roundOpen = ask.Count;
            var round = _hops;
            foreach (var candidate in ask)
            {
                Ask(candidate, round);
            }
        }

        /// <summary>
        /// A gathering lookup's end: once the α closest nodes not failed have all answered, it ends if each answered
        /// complete, and otherwise asks those that did not again, for records only (true: ended or asked); while any of
        /// them has not answered, the ordinary rounds go on (false).
        /// </summary>
        private bool Gathered()
        {
            var closest = _candidates.Values.Where(c => c.State != CandidateState.Failed).Take(node.Options.Alpha).ToList();
            if (closest.Count == 0 || closest.Exists(c => c.State != CandidateState.Answered))
            {
                return false;
            }

            var again = closest.Where(c => !c.Complete && c.AskedAgain < MaxAskedAgain).ToList();
            if (again.Count == 0)
            {
                Finish();
                return true;
            }

            _hops++;
            _roundOpen = again.Count;
            foreach (var candidate in again)
            {
                candidate.AskedAgain++;
                Ask(candidate, _hops, recordsOnly: true);
            }

            return true;
        }

        private void Ask(Candidate candidate, int round, bool recordsOnly = false)
        {
            candidate.State = CandidateState.Asked;
            candidate.CountedInRound = false;
            var request = new DhtMessage
            {
                Type = findValue ? DhtMessageType.FindValue : DhtMessageType.FindNode,
                RequestId = NewRequestId(),
                Sender = node.Self,
                Target = target,
                Have = gather ? Have() : [],
                RecordsOnly = recordsOnly,
            };
            candidate.HaveCut = gather && _records.Count > DhtWire.MaxHave;
            node.Request(
                candidate.Contact.Endpoint,
                candidate.Contact.Id,
                request,
                replies => Answered(candidate, round, replies),
                () => Slow(candidate, round));
        }

        private void Answered(Candidate candidate, int round, IReadOnlyList<DhtMessage>? replies)
        {
            candidate.State = replies is null ? CandidateState.Failed : CandidateState.Answered;
            var taken = 0;
            foreach (var reply in replies ?? [])
            {
                foreach (var contact in reply.Contacts)
                {
                    if (contact.Id != node.Self && !_candidates.ContainsKey(contact.Id))
                    {
                        _candidates.Add(contact.Id, new Candidate(contact));
                    }
                }

                foreach (var json in reply.Records)
                {
                    taken += Take(json, candidate.Contact.Endpoint) ? 1 : 0;
                }
            }

            // Complete only when every part came and says so: a lost part may have carried a record. Asked again, a holder
            // whose whole reply brings nothing new (one that does not read "have") has given all it will, unless the
            // list could not name every record held, when it may have sent only records the list left out.
            var whole = replies is { Count: > 0 } && replies.Count == replies[0].Parts;
            candidate.Complete = whole && (replies!.All(r => r.Complete) || (candidate.AskedAgain > 0 && taken == 0 && !candidate.HaveCut));

            if (StopsAtFirstValue)
            {
                Finish();
                return;
            }

            RoundMember(candidate, round);
        }

        /// <summary>
        /// The records found so far, as a request lists them: all of them, or a random <see cref="DhtWire.MaxHave"/> when
        /// there are more, so that each request leaves out others.
        /// </summary>
        private List<HeldRecord> Have()
        {
            var held = _records.Values.Select(r => new HeldRecord(r.Id[..HeldRecord.IdLength], r.Seq)).ToArray();
            if (held.Length > DhtWire.MaxHave)
            {
                Random.Shared.Shuffle(held);
            }

            return [.. held.Take(DhtWire.MaxHave)];
        }

        /// <summary>Checks a record of a FIND_VALUE reply and keeps it when it is newer than the one held; whether it was.</summary>
        private bool Take(JsonObject json, string from)
        {
            // Most holders answer with the same records: one no newer than a record already checked in this lookup
            // would change nothing, so its signature is not checked again.
            if (json["id"] is JsonValue idValue && idValue.TryGetValue<string>(out var heldId) && _records.TryGetValue(heldId, out var held)
                && json["seq"] is JsonValue seqValue && seqValue.TryGetValue<long>(out var seq) && seq <= held.Seq)
            {
                return false;
            }

            var now = node._time.GetUtcNow();
            var record = NodeRecord.Read(json, now, out var refusal);
            if (record is null)
            {
                node.Reject(refusal!, from);
                return false;
            }

            if (!DhtId.TryParse(record.Id, out var id) || (id != target && DhtId.TierKey(record.Content.Tier, record.Content.Region) != target))
            {
                node.Reject(new P2pRefusal(P2pRejection.WrongId, $"a FIND_VALUE reply carries the record of {NodeRecord.Short(record.Id)}, which does not belong under the key asked for"), from);
                return false;
            }

            if (!record.Supersedes(_records.GetValueOrDefault(record.Id)))
            {
                return false;
            }

            _records[record.Id] = record;
            node.Found(record);
            return true;
        }

        private void Slow(Candidate candidate, int round)
        {
            if (candidate.State == CandidateState.Asked)
            {
                candidate.State = CandidateState.Slow;
            }

            RoundMember(candidate, round);
        }

        /// <summary>Counts <paramref name="candidate"/> as done for its round (answered, failed or slow), once.</summary>
        private void RoundMember(Candidate candidate, int round)
        {
            if (candidate.CountedInRound || round != _hops)
            {
                // A late answer (or failure) of a node the round already moved past: if the lookup was only waiting
                // for such answers, it goes on now.
                if (!_done && _roundOpen == 0)
                {
                    NextRound();
                }

                return;
            }

            candidate.CountedInRound = true;
            _roundOpen--;
            if (_roundOpen == 0)
            {
                NextRound();
            }
        }

        private void Finish()
        {
            if (_done)
            {
                return;
            }

            _done = true;
            var answered = _candidates.Values.Where(c => c.State == CandidateState.Answered).Take(node.Options.K).ToList();
            var result = new DhtLookupResult(
                target,
                [.. answered.Select(c => c.Contact)],
                [.. _records.Values],
                _hops,
                _candidates.Values.Count(c => c.State is CandidateState.Answered or CandidateState.Failed),
                _candidates.Values.Count(c => c.State == CandidateState.Failed),
                node._time.GetUtcNow() - _startedAt);
            node.Completed(result, Completion);
        }
    }

    private enum CandidateState
    {
        New,
        Asked,

        /// <summary>Its first attempt timed out; the retry is under way.</summary>
        Slow,
        Answered,
        Failed,
    }

    private sealed class Candidate(DhtContact contact)
    {
        public DhtContact Contact { get; } = contact;

        public CandidateState State { get; set; }

        public bool CountedInRound { get; set; }

        /// <summary>A gathering lookup: its last answer carried every record it keeps under the key that the asker lacked.</summary>
        public bool Complete { get; set; }

        /// <summary>A gathering lookup: how many times it was asked again for records only.</summary>
        public int AskedAgain { get; set; }

        /// <summary>A gathering lookup: its last request could not list every record held (more than <see cref="DhtWire.MaxHave"/>).</summary>
        public bool HaveCut { get; set; }
    }
}
