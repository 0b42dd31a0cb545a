namespace Tenzro.Node.Core.Dht;

/// <summary>
/// Round trips measured per contact and over all contacts, smoothed as TCP does (RFC 6298: a smoothed round trip and
/// its mean deviation), from which each request's timeout follows: the contact's smoothed round trip plus four times
/// its deviation, at least a quarter of the round trip above it and never under the floor; a contact not measured yet
/// gets the figure of all contacts, and with nothing measured at all the fixed ceiling.
/// </summary>
/// <remarks>Not thread-safe: the owning <see cref="DhtNode"/> serialises every call under its lock.</remarks>
internal sealed class RoundTripTimes(TimeSpan floor, TimeSpan ceiling)
{
    private const int MaxContacts = 4096;
    private readonly Dictionary<DhtId, Estimate> _byContact = [];
    private Estimate? _all;

    /// <summary>Takes one round trip of a request that was answered on its first attempt (Karn: retried ones are ambiguous).</summary>
    public void Measured(DhtId? contact, TimeSpan roundTrip)
    {
        _all = Next(_all, roundTrip);
        if (contact is not { } id)
        {
            return;
        }

        if (!_byContact.ContainsKey(id) && _byContact.Count >= MaxContacts)
        {
            _byContact.Clear();
        }

        _byContact[id] = Next(_byContact.GetValueOrDefault(id), roundTrip);
    }

    /// <summary>How long one attempt of a request to <paramref name="contact"/> waits for its reply.</summary>
    public TimeSpan Timeout(DhtId? contact)
    {
        var estimate = contact is { } id && _byContact.TryGetValue(id, out var own) ? own : _all;
        if (estimate is not { } e)
        {
            return ceiling;
        }

        var margin = TimeSpan.FromTicks(Math.Max(4 * e.Deviation.Ticks, e.Smoothed.Ticks / 4));
        return TimeSpan.FromTicks(Math.Clamp((e.Smoothed + margin).Ticks, floor.Ticks, ceiling.Ticks));
    }

    /// <summary>Drops what was measured of a contact that left the table.</summary>
    public void Forget(DhtId contact) => _byContact.Remove(contact);

    private static Estimate Next(Estimate? previous, TimeSpan sample) => previous is not { } p
        ? new Estimate(sample, sample / 2)
        : new Estimate((p.Smoothed * 7 / 8) + (sample / 8), (p.Deviation * 3 / 4) + ((p.Smoothed - sample).Duration() / 4));

    private readonly record struct Estimate(TimeSpan Smoothed, TimeSpan Deviation);
}
