// The RFM page's heat map: R x F counts (colour) and revenue (tooltip), from the JSON that
// the page embeds with json_script; clicking a cell opens the customer list filtered to it.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("rfm-heatmap");
  const source = document.getElementById("rfm-grid-data");
  if (!box || !source || typeof echarts === "undefined") return;
  const data = JSON.parse(source.textContent);
  const listUrl = box.dataset.listUrl;
  const points = data.cells.map((c) => ({
    value: [c.f - 1, c.r - 1, c.count], revenue: c.revenue, segment: c.segment, url: c.url,
  }));
  const max = Math.max(1, ...data.cells.map((c) => c.count));
  const chart = echarts.init(box);
  chart.setOption({
    tooltip: {
      formatter: (p) => `${p.data.segment}<br>R${p.data.value[1] + 1} F${p.data.value[0] + 1}` +
        `<br>${data.labels.count}: ${p.data.value[2]}<br>${data.labels.revenue}: ¥${p.data.revenue}`,
    },
    grid: { left: 70, right: 20, top: 10, bottom: 70 },
    xAxis: { type: "category", name: data.labels.f, nameLocation: "middle", nameGap: 30,
             data: ["1", "2", "3", "4", "5"] },
    yAxis: { type: "category", name: data.labels.r, nameLocation: "middle", nameGap: 40,
             data: ["1", "2", "3", "4", "5"] },
    visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0 },
    series: [{ type: "heatmap", data: points, label: { show: true },
               emphasis: { itemStyle: { borderColor: "#111", borderWidth: 1 } } }],
  });
  chart.on("click", (p) => { if (p.data && p.data.url) window.location.href = listUrl + p.data.url; });
  window.addEventListener("resize", () => chart.resize());
  box.dataset.ready = "1";
});
