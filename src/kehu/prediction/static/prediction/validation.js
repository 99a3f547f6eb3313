// The validation page's charts: cumulative repeat purchases per week (actual vs the model,
// calibration end marked) and the holdout per calibration-frequency bucket, from the JSON
// the page embeds with json_script.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("prediction-chart-data");
  if (!source || typeof echarts === "undefined") return;
  const data = JSON.parse(source.textContent);
  const L = data.labels;
  const charts = [];
  const track = document.getElementById("tracking-chart");
  if (track && data.tracking.dates) {
    const chart = echarts.init(track);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [L.actual, L.predicted], top: 0 },
      grid: { left: 60, right: 20, top: 30, bottom: 40 },
      xAxis: { type: "category", data: data.tracking.dates },
      yAxis: { type: "value", name: L.cumulative, nameLocation: "middle", nameGap: 45 },
      series: [
        { name: L.actual, type: "line", showSymbol: false, data: data.tracking.actual,
          markLine: { symbol: "none", label: { formatter: L.calibration_end },
                      data: [{ xAxis: data.tracking.calibration_end_label }] } },
        { name: L.predicted, type: "line", showSymbol: false, lineStyle: { type: "dashed" },
          data: data.tracking.expected },
      ],
    });
    charts.push(chart);
    track.dataset.ready = "1";
  }
  const box = document.getElementById("bucket-chart");
  if (box && data.buckets.length) {
    const chart = echarts.init(box);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: [L.actual, L.predicted], top: 0 },
      grid: { left: 60, right: 20, top: 30, bottom: 50 },
      xAxis: { type: "category", name: L.frequency, nameLocation: "middle", nameGap: 30,
               data: data.buckets.map((b) => (b.plus ? `${b.frequency}+` : `${b.frequency}`)) },
      yAxis: { type: "value", name: L.per_customer, nameLocation: "middle", nameGap: 45 },
      series: [
        { name: L.actual, type: "bar", data: data.buckets.map((b) => b.actual.toFixed(2)) },
        { name: L.predicted, type: "bar", data: data.buckets.map((b) => b.predicted.toFixed(2)) },
      ],
    });
    charts.push(chart);
    box.dataset.ready = "1";
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
