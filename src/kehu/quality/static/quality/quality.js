// The data-quality trend chart: reads the JSON the page embeds, draws it with ECharts.
document.addEventListener("DOMContentLoaded", () => {
  const holder = document.getElementById("quality-trend");
  const source = document.getElementById("quality-trend-data");
  if (!holder || !source || !window.echarts) {
    return;
  }
  const trend = JSON.parse(source.textContent);
  const keys = ["average_score", "completeness", "validity", "freshness"];
  const chart = window.echarts.init(holder);
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: keys.map((key) => trend.labels[key]) },
    xAxis: { type: "category", data: trend.points.map((p) => p.day) },
    yAxis: { type: "value", min: 0, max: 100 },
    series: keys.map((key) => ({
      name: trend.labels[key], type: "line", smooth: true,
      data: trend.points.map((p) => p[key]),
    })),
  });
  holder.dataset.ready = "1";
  window.addEventListener("resize", () => chart.resize());
});
