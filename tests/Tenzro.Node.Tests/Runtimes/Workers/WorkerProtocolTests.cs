using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Tenzro.Node.Runtimes.Workers;
using Tenzro.Node.Tests.Support;

namespace Tenzro.Node.Tests.Runtimes.Workers;

[Trait("Suite", "inference")]
public sealed class WorkerProtocolTests
{
    [Fact]
    public async Task Frames_WrittenThenRead_ComeBackInOrder()
    {
        using var stream = new MemoryStream();
        await WorkerProtocol.WriteAsync(stream, WorkerFrameKind.Request, WorkerProtocol.Json(new JsonObject { ["job"] = 1 }), Timeouts.Token());
        WorkerProtocol.Write(stream, WorkerFrameKind.Progress, BitConverter.GetBytes(0.5));
        stream.Position = 0;

        var request = await WorkerProtocol.ReadAsync(stream, Timeouts.Token());
        var progress = await WorkerProtocol.ReadAsync(stream, Timeouts.Token());
        var end = await WorkerProtocol.ReadAsync(stream, Timeouts.Token());

        Assert.Equal(WorkerFrameKind.Request, request!.Value.Kind);
        Assert.Equal(1, WorkerProtocol.ParseObject(request.Value.Payload)["job"]!.GetValue<int>());
        Assert.Equal(0.5, BitConverter.ToDouble(progress!.Value.Payload));
        Assert.Null(end);
    }

    [Fact]
    public async Task Write_SmallFrame_ReachesThePipeInOneWrite_AndALargeOneInTwo_BothReadBackWhole()
    {
        // One write per frame lets the reader wake once for it, not once for the header and again for the payload.
        using var stream = new WriteCountingStream();
        var large = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();

        WorkerProtocol.Write(stream, WorkerFrameKind.Done, new byte[1000]);
        var small = stream.Writes;
        await WorkerProtocol.WriteAsync(stream, WorkerFrameKind.Request, new byte[10], Timeouts.Token());
        var smallAsync = stream.Writes - small;
        WorkerProtocol.Write(stream, WorkerFrameKind.Done, large);
        var big = stream.Writes - small - smallAsync;
        stream.Position = 0;

        Assert.Equal(1, small);
        Assert.Equal(1, smallAsync);
        Assert.Equal(2, big);
        Assert.Equal(1000, (await WorkerProtocol.ReadAsync(stream, Timeouts.Token()))!.Value.Payload.Length);
        Assert.Equal(10, (await WorkerProtocol.ReadAsync(stream, Timeouts.Token()))!.Value.Payload.Length);
        Assert.Equal(large, (await WorkerProtocol.ReadAsync(stream, Timeouts.Token()))!.Value.Payload);
    }

    [Fact]
    public async Task Read_LengthOverTheLimit_IsRefusedBeforeAllocating()
    {
        var header = new byte[5];
        BinaryPrimitives.WriteInt32LittleEndian(header, WorkerProtocol.MaxPayloadBytes + 1);
        header[4] = (byte)WorkerFrameKind.Done;
        using var stream = new MemoryStream(header);

        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await WorkerProtocol.ReadAsync(stream, Timeouts.Token()));

        Assert.Contains("over the", error.Message);
    }

    [Fact]
    public async Task Read_StreamEndingInsideAFrame_IsAnError()
    {
        using var whole = new MemoryStream();
        WorkerProtocol.Write(whole, WorkerFrameKind.Done, new byte[100]);
        using var cut = new MemoryStream(whole.ToArray()[..50]);

        await Assert.ThrowsAsync<InvalidDataException>(async () => await WorkerProtocol.ReadAsync(cut, Timeouts.Token()));
    }

    [Fact]
    public void Read_OnTheCallingThread_GivesTheFramesInOrder_NullAtTheEnd_AndRefusesACutOrOversizedFrame()
    {
        using var stream = new MemoryStream();
        WorkerProtocol.Write(stream, WorkerFrameKind.Request, WorkerProtocol.Json(new JsonObject { ["job"] = 2 }));
        WorkerProtocol.Write(stream, WorkerFrameKind.Done, new byte[100]);
        stream.Position = 0;
        var oversized = new byte[5];
        BinaryPrimitives.WriteInt32LittleEndian(oversized, WorkerProtocol.MaxPayloadBytes + 1);
        using var cut = new MemoryStream(stream.ToArray()[..10]); // inside the first frame
        using var tooLarge = new MemoryStream(oversized);

        var request = WorkerProtocol.Read(stream);
        var done = WorkerProtocol.Read(stream);
        var end = WorkerProtocol.Read(stream);

        Assert.Equal(2, WorkerProtocol.ParseObject(request!.Value.Payload)["job"]!.GetValue<int>());
        Assert.Equal((WorkerFrameKind.Done, 100), (done!.Value.Kind, done.Value.Payload.Length));
        Assert.Null(end);
        Assert.Throws<InvalidDataException>(() => WorkerProtocol.Read(cut));
        Assert.Contains("over the", Assert.Throws<InvalidDataException>(() => WorkerProtocol.Read(tooLarge)).Message);
    }

    /// <summary>Counts the writes that reach the stream: every overload of a derived MemoryStream ends in this one.</summary>
    private sealed class WriteCountingStream : MemoryStream
    {
        public int Writes { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes++;
            base.Write(buffer, offset, count);
        }
    }
}
