// Calcifer console: draws the charts (Chart.js, vendored beside this file) and the copy button.
// No build step; every page works without it except the charts.
"use strict";

(function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const palette = ["#d9480f", "#1971c2", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#e03131", "#5c940d",
                   "#6741d9", "#495057"];

  // The admin API, authorised by the session cookie plus the session's CSRF token.
  async function adminGet(path) {
    const response = await fetch(path, { headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" });
    if (!response.ok) throw new Error(path + ": " + response.status);
    return response.json();
  }

  function label(iso, bucketSeconds) {
    const moment = new Date(iso);
    if (bucketSeconds >= 6 * 3600) return moment.toISOString().slice(5, 13).replace("T", " ") + "h";
    return moment.toISOString().slice(11, 16);
  }

  function chart(id, type, labels, datasets, options) {
    const canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return null;
    return new Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
                               interaction: { mode: "index", intersect: false } }, options || {}),
    });
  }

  function line(labelText, values, color) {
    return { label: labelText, data: values, borderColor: color, backgroundColor: color, spanGaps: true,
             pointRadius: 2, tension: 0.2 };
  }

  async function overview() {
    const section = document.getElementById("overview");
    const status = document.getElementById("overview-status");
    try {
      const stats = await adminGet("/admin/stats?window=" + encodeURIComponent(section.dataset.window));
      const labels = stats.buckets.map((b) => label(b.start, stats.bucket_seconds));
      const pick = (name) => stats.buckets.map((b) => (b[name] === null ? null : Number(b[name])));
      document.getElementById("total-requests").textContent = String(stats.totals.requests);
      document.getElementById("total-errors").textContent = String(stats.totals.errors);
      document.getElementById("total-cost").textContent = stats.totals.cost_usd;
      chart("chart-requests", "bar", labels, [
        { label: "requests", data: pick("requests"), backgroundColor: palette[1] },
        { label: "errors", data: pick("errors"), backgroundColor: palette[6] },
      ]);
      chart("chart-cost", "bar", labels, [{ label: "USD", data: pick("cost_usd"), backgroundColor: palette[0] }]);
      chart("chart-latency", "line", labels, [line("p50", pick("latency_p50_ms"), palette[2]),
                                               line("p99", pick("latency_p99_ms"), palette[3])]);
      chart("chart-ttft", "line", labels, [line("p50", pick("ttft_p50_ms"), palette[5]),
                                            line("p99", pick("ttft_p99_ms"), palette[4])]);
      cacheFigures(stats.cache);
      chart("chart-cache", "bar", labels, [
        { label: "hits", data: pick("cache_hits"), backgroundColor: palette[2] },
        { label: "misses", data: pick("cache_misses"), backgroundColor: palette[9] },
      ], { scales: { x: { stacked: true }, y: { stacked: true } } });
      status.textContent = "Since " + stats.since + " (UTC), " + stats.buckets.length + " buckets of " +
        (stats.bucket_seconds / 60) + " min.";
      document.body.dataset.chartsReady = "true";
    } catch (error) {
      status.textContent = "Could not load the figures: " + error.message;
    }
  }

  function bytes(count) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = count, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit === 0 ? String(value) : value.toFixed(1)) + " " + units[unit];
  }

  // The response cache: hit ratio and savings from the ledger, bytes held from the gateway.
  function cacheFigures(cache) {
    const text = (id, value) => { document.getElementById(id).textContent = value; };
    text("cache-hit-ratio", cache.hit_ratio === null ? "—" : (cache.hit_ratio * 100).toFixed(1) + " %");
    text("cache-hit-ratio-note", cache.hits + " hits, " + cache.misses + " misses (every worker and replica)");
    text("cache-saved", cache.saved_usd);
    const held = document.getElementById("cache-bytes");
    held.dataset.bytes = cache.bytes_held === null ? "" : String(cache.bytes_held);
    held.textContent = cache.bytes_held === null ? "—" : bytes(cache.bytes_held);
    text("cache-bytes-note", cache.bytes_of);
  }

  function spend() {
    const source = document.getElementById("spend-data");
    if (!source) return;
    const rows = JSON.parse(source.textContent);
    const days = [...new Set(rows.map((r) => r.day))].sort();
    const groups = [...new Set(rows.map((r) => r.group))].sort();
    const datasets = groups.map((group, i) => ({
      label: group,
      backgroundColor: palette[i % palette.length],
      data: days.map((day) => rows.filter((r) => r.day === day && r.group === group)
        .reduce((sum, r) => sum + Number(r.cost_usd), 0)),
    }));
    chart("chart-spend", "bar", days, datasets, { scales: { x: { stacked: true }, y: { stacked: true } } });
    document.body.dataset.chartsReady = "true";
  }

  function copyButtons() {
    document.querySelectorAll("button.copy").forEach((button) => {
      button.addEventListener("click", async () => {
        const text = document.getElementById(button.dataset.copy).textContent;
        try {
          await navigator.clipboard.writeText(text);
        } catch (error) {
          // Clipboard API refused (plain HTTP on another host): select the text for Ctrl+C.
          const range = document.createRange();
          range.selectNodeContents(document.getElementById(button.dataset.copy));
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
        }
        const done = document.getElementById("copied");
        if (done) done.hidden = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    copyButtons();
    const page = document.body.dataset.page;
    if (page === "overview") overview();
    if (page === "spend") spend();
  });
})();
