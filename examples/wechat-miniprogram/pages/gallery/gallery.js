const { apiBaseUrl } = require('../../config');

Page({
  data: { imagePath: '', status: 'loading' },

  onLoad(query) {
    wx.downloadFile({
      url: `${apiBaseUrl}/images/${query.id}`,
      success: (res) =>
        this.setData(
          res.statusCode === 200
            ? { imagePath: res.tempFilePath, status: 'done' }
            : { status: `HTTP ${res.statusCode}` },
        ),
      fail: (err) => this.setData({ status: err.errMsg }),
    });
  },
});
