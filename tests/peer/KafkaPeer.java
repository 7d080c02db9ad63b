// KafkaPeer: an independent Java Kafka client (the official kafka-clients
// library) used by the integration tests to write inputs and read outputs
// byte-exactly, so kafka-backup (librdkafka based) is checked against a
// different client implementation.
//
// Built by scripts/setup.sh into .cache/peer/ and run through the wrapper
// .cache/kafka/bin/kafka-peer.  Keys, values and header values are base64 in
// all JSON (null = absent); one JSON object per line.
//
//   kafka-peer produce --bootstrap B --topic T [--transactional-id ID]
//              [--compression none|gzip|snappy|lz4|zstd] [--property k=v ...]
//       stdin: {"partition":int|null,"key":b64|null,"value":b64|null,
//               "headers":[["name",b64|null],...],"timestamp":long|null}
//              {"txn":"begin"} {"txn":"commit"} {"txn":"abort"}
//              {"txn":"offsets","group":G,"partition":p,"offset":o[,"metadata":m]}  (sendOffsetsToTransaction, --topic's p)
//              {"txn":"halt"}  (flush, then exit 0 at once: the open transaction stays pending, as after a kill)
//   kafka-peer dump --bootstrap B --topic T [--isolation read_committed|read_uncommitted]
//              [--timeout-ms N] [--property k=v ...]
//       stdout: {"partition":p,"offset":o,"timestamp":t,"timestamp_type":"CreateTime",
//                "key":b64|null,"value":b64|null,"headers":[["name",b64|null],...]}
//   kafka-peer partition-for --partitions N --key B64
//   kafka-peer create-topic --bootstrap B --topic T --partitions N
//              [--replication-factor R] [--config k=v ...] [--if-not-exists]
//   kafka-peer delete-topic --bootstrap B --topic T
//   kafka-peer delete-records --bootstrap B --topic T --offset P:O [--offset P:O ...]   (records before O)
//   kafka-peer describe-topic --bootstrap B --topic T [--all-configs]
//   kafka-peer end-offsets --bootstrap B --topic T
//   kafka-peer group-offsets --bootstrap B --group G
//   kafka-peer commit-offsets --bootstrap B --group G --topic T --offset P:O [--offset P:O ...]
//
// Exit codes: 0 ok, 1 runtime error (send failure, missing topic, timeout...),
// 2 usage error or invalid input line.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

public final class KafkaPeer {

    /** Usage or input error: exit code 2. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        UsageException(String msg) { super(msg); }
    }

    /** Bad JSON input on stdin: exit code 2, without the usage text. */
    static final class InputException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        InputException(String msg) { super(msg); }
    }

    /** Runtime failure with a clean message: exit code 1. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        Failure(String msg) { super(msg); }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Base64.Encoder B64E = Base64.getEncoder();
    private static final Base64.Decoder B64D = Base64.getDecoder();
    private static final int MAX_BYTES = 16 * 1024 * 1024;   // generous for ~1 MiB records

    // Flags that take no value.
    private static final Set<String> BOOLEAN_FLAGS = Set.of("all-configs", "if-not-exists");
    // Options that may be repeated.
    private static final Set<String> LIST_OPTIONS = Set.of("config", "property", "offset");

    private final Map<String, String> opts = new HashMap<>();
    private final Map<String, List<String>> lists = new HashMap<>();

    public static void main(String[] args) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            System.err.println(USAGE);
            System.exit(args.length == 0 ? 2 : 0);
        }
        int rc;
        try {
            KafkaPeer peer = new KafkaPeer();
            peer.parse(args);
            rc = peer.run(args[0]);
        } catch (UsageException e) {
            System.err.println("kafka-peer: " + e.getMessage());
            System.err.println(USAGE);
            rc = 2;
        } catch (InputException e) {
            System.err.println("kafka-peer: " + e.getMessage());
            rc = 2;
        } catch (Failure e) {
            System.err.println("kafka-peer: " + e.getMessage());
            rc = 1;
        } catch (Exception e) {
            Throwable c = (e instanceof ExecutionException && e.getCause() != null) ? e.getCause() : e;
            System.err.println("kafka-peer: " + c);
            rc = 1;
        }
        System.out.flush();
        // Client threads may linger; exit explicitly.
        System.exit(rc);
    }

    private static final String USAGE = String.join("\n",
        "usage: kafka-peer <command> [options]",
        "  produce        --bootstrap B --topic T [--transactional-id ID] [--compression C] [--property k=v]...",
        "  dump           --bootstrap B --topic T [--isolation read_committed|read_uncommitted] [--timeout-ms N]",
        "  partition-for  --partitions N --key BASE64",
        "  create-topic   --bootstrap B --topic T --partitions N [--replication-factor R] [--config k=v]... [--if-not-exists]",
        "  delete-topic   --bootstrap B --topic T",
        "  delete-records --bootstrap B --topic T --offset P:O [--offset P:O ...]  (records before O)",
        "  describe-topic --bootstrap B --topic T [--all-configs]",
        "  end-offsets    --bootstrap B --topic T",
        "  group-offsets  --bootstrap B --group G",
        "  commit-offsets --bootstrap B --group G --topic T --offset PARTITION:OFFSET [--offset ...]");

    // ------------------------------------------------------------------ args

    private void parse(String[] args) {
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new UsageException("unexpected argument: " + a);
            String name = a.substring(2);
            String value;
            if (BOOLEAN_FLAGS.contains(name)) {
                value = "true";
            } else {
                if (i + 1 >= args.length) throw new UsageException("missing value for " + a);
                value = args[++i];
            }
            if (LIST_OPTIONS.contains(name)) {
                lists.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            } else {
                opts.put(name, value);
            }
        }
    }

    private String req(String name) {
        String v = opts.get(name);
        if (v == null) throw new UsageException("--" + name + " is required");
        return v;
    }

    private String opt(String name, String dflt) {
        return opts.getOrDefault(name, dflt);
    }

    private boolean flag(String name) {
        return "true".equals(opts.get(name));
    }

    private List<String> list(String name) {
        return lists.getOrDefault(name, Collections.emptyList());
    }

    private static int parseInt(String name, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be an integer: " + v);
        }
    }

    private static Map<String, String> keyValues(List<String> items, String what) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : items) {
            int eq = kv.indexOf('=');
            if (eq <= 0) throw new UsageException("--" + what + " expects key=value, got: " + kv);
            m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return m;
    }

    private int run(String cmd) throws Exception {
        switch (cmd) {
            case "produce": return produce();
            case "dump": return dump();
            case "partition-for": return partitionFor();
            case "create-topic": return createTopic();
            case "delete-topic": return deleteTopic();
            case "delete-records": return deleteRecords();
            case "describe-topic": return describeTopic();
            case "end-offsets": return endOffsets();
            case "group-offsets": return groupOffsets();
            case "commit-offsets": return commitOffsets();
            default: throw new UsageException("unknown command: " + cmd);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] b64(JsonNode n, String field, long line) {
        if (n == null || n.isNull()) return null;
        if (!n.isTextual()) throw new InputException("line " + line + ": " + field + " must be base64 string or null");
        try {
            return B64D.decode(n.asText());
        } catch (IllegalArgumentException e) {
            throw new InputException("line " + line + ": " + field + " is not valid base64");
        }
    }

    private static String b64(byte[] b) {
        return b == null ? null : B64E.encodeToString(b);
    }

    private Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, req("bootstrap"));
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "kafka-peer-admin");
        return Admin.create(p);
    }

    /** Partition count of a topic via Admin; Failure if it doesn't exist. */
    private static List<TopicPartitionInfo> partitionsOf(Admin admin, String topic) throws Exception {
        try {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            return d.partitions();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new Failure("topic does not exist: " + topic);
            }
            throw e;
        }
    }

    private static String json(ObjectNode n) throws Exception {
        return JSON.writeValueAsString(n);
    }

    // ---------------------------------------------------------------- produce

    private int produce() throws Exception {
        String topic = req("topic");
        String txnId = opts.get("transactional-id");
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, req("bootstrap"));
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "kafka-peer-producer");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(MAX_BYTES));
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(4L * MAX_BYTES));
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, opt("compression", "none"));
        // Fail within 20 s (not the default 60 s) when e.g. the topic does not exist.
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        if (txnId != null) p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.putAll(keyValues(list("property"), "property"));

        // Fail fast on a missing topic (the producer would wait max.block.ms).
        try (Admin admin = admin()) {
            partitionsOf(admin, topic);
        }

        AtomicReference<Exception> firstError = new AtomicReference<>();
        AtomicLong acked = new AtomicLong();
        long lineNo = 0;
        boolean inTxn = false;

        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            if (txnId != null) producer.initTransactions();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) continue;
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (Exception e) {
                    throw new InputException("line " + lineNo + ": invalid JSON: " + e.getMessage());
                }
                if (n == null || !n.isObject()) throw new InputException("line " + lineNo + ": expected a JSON object");

                JsonNode txn = n.get("txn");
                if (txn != null && !txn.isNull()) {
                    if (txnId == null) throw new InputException("line " + lineNo + ": txn control line needs --transactional-id");
                    switch (txn.asText()) {
                        case "begin":
                            producer.beginTransaction();
                            inTxn = true;
                            break;
                        case "commit":
                            producer.commitTransaction();   // flushes; throws on send error
                            inTxn = false;
                            break;
                        case "offsets": {
                            String group = n.path("group").asText("");
                            if (group.isEmpty() || !n.has("partition") || !n.has("offset")) {
                                throw new InputException("line " + lineNo + ": offsets needs group, partition and offset");
                            }
                            producer.sendOffsetsToTransaction(
                                Map.of(new TopicPartition(topic, n.get("partition").asInt()),
                                       new OffsetAndMetadata(n.get("offset").asLong(), n.path("metadata").asText(""))),
                                new ConsumerGroupMetadata(group));
                            break;
                        }
                        case "halt":
                            producer.flush();
                            System.out.flush();
                            Runtime.getRuntime().halt(firstError.get() == null ? 0 : 1);
                            break;
                        case "abort":
                            // Flush first so the aborted records really reach the log
                            // (tests want aborted data + abort marker on disk).
                            producer.flush();
                            if (firstError.get() != null) break;
                            producer.abortTransaction();
                            inTxn = false;
                            break;
                        default:
                            throw new InputException("line " + lineNo + ": unknown txn action: " + txn.asText());
                    }
                    if (firstError.get() != null) break;
                    continue;
                }

                JsonNode pn = n.get("partition");
                Integer partition = (pn == null || pn.isNull()) ? null : pn.asInt();
                JsonNode tn = n.get("timestamp");
                Long timestamp = (tn == null || tn.isNull()) ? null : tn.asLong();   // 0 stays an explicit 0
                byte[] key = b64(n.get("key"), "key", lineNo);
                byte[] value = b64(n.get("value"), "value", lineNo);
                List<Header> headers = new ArrayList<>();
                JsonNode hn = n.get("headers");
                if (hn != null && !hn.isNull()) {
                    if (!hn.isArray()) throw new InputException("line " + lineNo + ": headers must be an array");
                    for (JsonNode h : hn) {
                        if (!h.isArray() || h.size() != 2 || !h.get(0).isTextual()) {
                            throw new InputException("line " + lineNo + ": header must be [\"name\", b64|null]");
                        }
                        headers.add(new RecordHeader(h.get(0).asText(), b64(h.get(1), "header value", lineNo)));
                    }
                }
                ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(topic, partition, timestamp, key, value, headers);
                producer.send(rec, (md, ex) -> {
                    if (ex != null) firstError.compareAndSet(null, ex);
                    else acked.incrementAndGet();
                });
                if (firstError.get() != null) break;
            }
            producer.flush();
            if (firstError.get() == null && inTxn) {
                System.err.println("kafka-peer: warning: input ended inside a transaction; committing it");
                producer.commitTransaction();
            }
        }
        System.err.println("sent " + acked.get() + " records to " + topic);
        if (firstError.get() != null) {
            throw new Failure("send failed: " + firstError.get());
        }
        return 0;
    }

    // ------------------------------------------------------------------- dump

    private int dump() throws Exception {
        String topic = req("topic");
        String isolation = opt("isolation", "read_committed");
        if (!isolation.equals("read_committed") && !isolation.equals("read_uncommitted")) {
            throw new UsageException("--isolation must be read_committed or read_uncommitted");
        }
        long timeoutMs = Long.parseLong(opt("timeout-ms", "120000"));

        // Partitions and the offsets to read between, taken once at start:
        // end = high watermark, or the last stable offset for read_committed.
        List<TopicPartition> tps = new ArrayList<>();
        Map<TopicPartition, Long> begins = new HashMap<>();
        Map<TopicPartition, Long> ends = new HashMap<>();
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (TopicPartitionInfo info : partitionsOf(admin, topic)) {
                TopicPartition tp = new TopicPartition(topic, info.partition());
                tps.add(tp);
                earliest.put(tp, OffsetSpec.earliest());
                latest.put(tp, OffsetSpec.latest());
            }
            ListOffsetsOptions lo = new ListOffsetsOptions(
                isolation.equals("read_committed") ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED);
            admin.listOffsets(earliest, lo).all().get().forEach((tp, r) -> begins.put(tp, r.offset()));
            admin.listOffsets(latest, lo).all().get().forEach((tp, r) -> ends.put(tp, r.offset()));
        }
        tps.sort(Comparator.comparingInt(TopicPartition::partition));

        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, req("bootstrap"));
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "kafka-peer-dump");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(MAX_BYTES));
        p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(4 * MAX_BYTES));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.putAll(keyValues(list("property"), "property"));

        long deadline = System.currentTimeMillis() + timeoutMs;
        long count = 0;
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            // One partition at a time: output is naturally sorted by partition,
            // then offset, and memory stays bounded.
            for (TopicPartition tp : tps) {
                long end = ends.get(tp);
                if (begins.get(tp) >= end) continue;
                consumer.assign(List.of(tp));
                consumer.seek(tp, begins.get(tp));
                // Stop when position >= end: works across aborted data,
                // transaction markers and compaction gaps at the end.
                while (consumer.position(tp) < end) {
                    if (System.currentTimeMillis() > deadline) {
                        out.flush();
                        throw new Failure("timeout: partition " + tp.partition() + " at position "
                            + consumer.position(tp) + " < end offset " + end);
                    }
                    ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(500));
                    for (ConsumerRecord<byte[], byte[]> r : recs.records(tp)) {
                        if (r.offset() >= end) continue;   // written after we started
                        out.write(json(recordJson(r)));
                        out.write('\n');
                        count++;
                    }
                }
            }
        }
        out.flush();
        System.err.println("dumped " + count + " records from " + topic);
        return 0;
    }

    private static ObjectNode recordJson(ConsumerRecord<byte[], byte[]> r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("partition", r.partition());
        o.put("offset", r.offset());
        o.put("timestamp", r.timestamp());
        o.put("timestamp_type", r.timestampType().name);   // "CreateTime" / "LogAppendTime"
        o.put("key", b64(r.key()));
        o.put("value", b64(r.value()));
        ArrayNode hs = o.putArray("headers");
        for (Header h : r.headers()) {
            ArrayNode pair = hs.addArray();
            pair.add(h.key());
            pair.add(b64(h.value()));
        }
        return o;
    }

    // ---------------------------------------------------------- partition-for

    private int partitionFor() {
        int n = parseInt("partitions", req("partitions"));
        if (n <= 0) throw new UsageException("--partitions must be > 0");
        byte[] key;
        try {
            key = B64D.decode(req("key"));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--key is not valid base64");
        }
        // Same formula as the Java producer's built-in partitioner for keyed records.
        System.out.println(Utils.toPositive(Utils.murmur2(key)) % n);
        return 0;
    }

    // ------------------------------------------------------------------ admin

    private int createTopic() throws Exception {
        String topic = req("topic");
        int partitions = parseInt("partitions", req("partitions"));
        short rf = (short) parseInt("replication-factor", opt("replication-factor", "1"));
        NewTopic nt = new NewTopic(topic, partitions, rf).configs(keyValues(list("config"), "config"));
        try (Admin admin = admin()) {
            admin.createTopics(List.of(nt)).all().get();
            System.err.println("created topic " + topic);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException && flag("if-not-exists")) {
                System.err.println("topic already exists: " + topic);
                return 0;
            }
            throw new Failure("create-topic " + topic + " failed: " + e.getCause());
        }
        return 0;
    }

    private int deleteTopic() throws Exception {
        String topic = req("topic");
        try (Admin admin = admin()) {
            admin.deleteTopics(List.of(topic)).all().get();
            System.err.println("deleted topic " + topic);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new Failure("topic does not exist: " + topic);
            }
            throw e;
        }
        return 0;
    }

    /** {"topic":T,"partitions":N,"replication_factor":R,"configs":{k:v}} (only topic-level overrides unless --all-configs). */
    private int describeTopic() throws Exception {
        String topic = req("topic");
        boolean all = flag("all-configs");
        try (Admin admin = admin()) {
            List<TopicPartitionInfo> parts = partitionsOf(admin, topic);
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config cfg = admin.describeConfigs(List.of(res)).all().get().get(res);
            ObjectNode o = JSON.createObjectNode();
            o.put("topic", topic);
            o.put("partitions", parts.size());
            o.put("replication_factor", parts.isEmpty() ? 0 : parts.get(0).replicas().size());
            ObjectNode configs = o.putObject("configs");
            TreeMap<String, String> sorted = new TreeMap<>();
            for (ConfigEntry e : cfg.entries()) {
                if (all || e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                    sorted.put(e.name(), e.value());
                }
            }
            sorted.forEach(configs::put);
            System.out.println(json(o));
        }
        return 0;
    }

    /** One line per partition: {"partition":p,"earliest":e,"latest":l} (latest = high watermark). */
    private int endOffsets() throws Exception {
        String topic = req("topic");
        try (Admin admin = admin()) {
            List<TopicPartitionInfo> parts = partitionsOf(admin, topic);
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (TopicPartitionInfo i : parts) {
                TopicPartition tp = new TopicPartition(topic, i.partition());
                earliest.put(tp, OffsetSpec.earliest());
                latest.put(tp, OffsetSpec.latest());
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e = admin.listOffsets(earliest).all().get();
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> l = admin.listOffsets(latest).all().get();
            List<TopicPartition> tps = new ArrayList<>(earliest.keySet());
            tps.sort(Comparator.comparingInt(TopicPartition::partition));
            for (TopicPartition tp : tps) {
                ObjectNode o = JSON.createObjectNode();
                o.put("partition", tp.partition());
                o.put("earliest", e.get(tp).offset());
                o.put("latest", l.get(tp).offset());
                System.out.println(json(o));
            }
        }
        return 0;
    }

    /** One line per committed partition: {"topic":T,"partition":p,"offset":o,"metadata":m}. */
    private int groupOffsets() throws Exception {
        String group = req("group");
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            List<TopicPartition> tps = new ArrayList<>(offsets.keySet());
            tps.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
            for (TopicPartition tp : tps) {
                OffsetAndMetadata om = offsets.get(tp);
                if (om == null) continue;
                ObjectNode o = JSON.createObjectNode();
                o.put("topic", tp.topic());
                o.put("partition", tp.partition());
                o.put("offset", om.offset());
                o.put("metadata", om.metadata());
                System.out.println(json(o));
            }
        }
        return 0;
    }

    /** Commits offsets for an (inactive) group via Admin.alterConsumerGroupOffsets. */
    private int commitOffsets() throws Exception {
        String group = req("group");
        String topic = req("topic");
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        partitionOffsets(topic).forEach((tp, o) -> offsets.put(tp, new OffsetAndMetadata(o)));
        try (Admin admin = admin()) {
            admin.alterConsumerGroupOffsets(group, offsets).all().get();
        }
        System.err.println("committed " + offsets.size() + " offsets for group " + group);
        return 0;
    }

    /** Deletes the records of each --offset PARTITION:OFFSET partition before OFFSET (DeleteRecords). */
    private int deleteRecords() throws Exception {
        String topic = req("topic");
        Map<TopicPartition, RecordsToDelete> before = new HashMap<>();
        partitionOffsets(topic).forEach((tp, o) -> before.put(tp, RecordsToDelete.beforeOffset(o)));
        try (Admin admin = admin()) {
            admin.deleteRecords(before).all().get();
        }
        System.err.println("deleted records of " + before.size() + " partitions of " + topic);
        return 0;
    }

    /** The --offset PARTITION:OFFSET options (at least one) of `topic`. */
    private Map<TopicPartition, Long> partitionOffsets(String topic) {
        Map<TopicPartition, Long> out = new HashMap<>();
        if (list("offset").isEmpty()) throw new UsageException("at least one --offset PARTITION:OFFSET is required");
        for (String po : list("offset")) {
            String[] parts = po.split(":", 2);
            if (parts.length != 2) throw new UsageException("--offset expects PARTITION:OFFSET, got: " + po);
            try {
                out.put(new TopicPartition(topic, Integer.parseInt(parts[0])), Long.parseLong(parts[1]));
            } catch (NumberFormatException e) {
                throw new UsageException("--offset expects PARTITION:OFFSET, got: " + po);
            }
        }
        return out;
    }
}
