// A tiny stand-in for LanguageTool's server jar, for mtqa's tests of the local-server path of
// language-tool-python (process start, readiness, check, shutdown). It is NOT LanguageTool: it
// knows one spelling rule (the OCR misreading "tbe" -> "the") and answers in the documented
// /v2 shapes. Built by the test with javac + jar into LanguageTool-<version>/languagetool-server.jar.
//
// Environment knobs for the tests: STANDIN_DELAY_MS (wait before listening, to exercise the
// client's readiness loop), STANDIN_EXIT (exit at once with this code).
package org.languagetool.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class HTTPServer {
    private static final Pattern RULE = Pattern.compile("\\b[Tt]be\\b");

    public static void main(String[] args) throws Exception {
        String exit = System.getenv("STANDIN_EXIT");
        if (exit != null && !exit.isEmpty()) {
            System.exit(Integer.parseInt(exit));
        }
        int port = 8081;
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals("-p") || args[i].equals("--port")) {
                port = Integer.parseInt(args[i + 1]);
            }
        }
        String delay = System.getenv("STANDIN_DELAY_MS");
        if (delay != null && !delay.isEmpty()) {
            Thread.sleep(Long.parseLong(delay));
        }
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/v2/healthcheck", ex -> send(ex, 200, "OK", "text/plain"));
        server.createContext("/v2/languages", ex -> send(ex, 200,
            "[{\"name\":\"English (US)\",\"code\":\"en\",\"longCode\":\"en-US\"},"
            + "{\"name\":\"English\",\"code\":\"en\",\"longCode\":\"en\"}]", "application/json"));
        server.createContext("/v2/check", HTTPServer::check);
        server.start();
    }

    private static void check(HttpExchange ex) throws IOException {
        String query = ex.getRequestURI().getRawQuery();
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Map<String, String> params = new HashMap<>();
        parse(query, params);
        parse(body, params);
        String text = params.getOrDefault("text", "");
        StringBuilder json = new StringBuilder();
        json.append("{\"software\":{\"name\":\"LanguageTool\",\"version\":\"6.6-standin\",\"apiVersion\":1},");
        json.append("\"language\":{\"name\":\"English (US)\",\"code\":\"en-US\"},\"matches\":[");
        Matcher m = RULE.matcher(text);  // Java strings are UTF-16: offsets come out in code units
        boolean first = true;
        while (m.find()) {
            if (!first) json.append(',');
            first = false;
            String fix = Character.isUpperCase(text.charAt(m.start())) ? "The" : "the";
            json.append("{\"message\":\"Possible spelling mistake found.\",\"shortMessage\":\"Spelling mistake\",")
                .append("\"replacements\":[{\"value\":\"").append(fix).append("\"},{\"value\":\"be\"}],")
                .append("\"offset\":").append(m.start()).append(",\"length\":").append(m.end() - m.start())
                .append(",\"context\":{\"text\":\"").append(escape(text)).append("\",\"offset\":").append(m.start())
                .append(",\"length\":").append(m.end() - m.start()).append("},")
                .append("\"sentence\":\"").append(escape(text)).append("\",")
                .append("\"type\":{\"typeName\":\"UnknownWord\"},")
                .append("\"rule\":{\"id\":\"MORFOLOGIK_RULE_EN_US\",\"description\":\"Possible spelling mistake\",")
                .append("\"issueType\":\"misspelling\",\"category\":{\"id\":\"TYPOS\",\"name\":\"Possible Typo\"}},")
                .append("\"ignoreForIncompleteSentence\":false,\"contextForSureMatch\":0}");
        }
        json.append("]}");
        send(ex, 200, json.toString(), "application/json");
    }

    private static void parse(String raw, Map<String, String> into) {
        if (raw == null || raw.isEmpty()) return;
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq < 0) continue;
            into.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                     URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
    }

    private static String escape(String s) {
        StringBuilder out = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.toString();
    }

    private static void send(HttpExchange ex, int status, String body, String type) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(bytes);
        }
    }
}
